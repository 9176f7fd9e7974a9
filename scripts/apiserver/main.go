// Command apiextensions-apiserver runs the real Kubernetes CRD API server
// (k8s.io/apiextensions-apiserver, the CRD half of kube-apiserver) standalone,
// backed by a real etcd, for tests and demos of privateapi-operator.
//
// Built by scripts/apiserver.sh in GOPATH mode from Debian's golang-k8s-*-dev
// packages. The upstream command expects to sit behind a core kube-apiserver
// (TokenReview/SubjectAccessReview delegation, core informers for admission and
// API Priority and Fairness). This main runs it without any of that:
//
//   - no core API (/api): no Namespaces, Events, Secrets, Leases, RBAC, ...
//   - no admission chain (so no NamespaceLifecycle: namespaced custom resources
//     can be created in any namespace name) and no admission webhooks
//   - no API Priority and Fairness (plain max-in-flight limits)
//   - authentication: x509 client certificates (--client-ca-file) and a static
//     token file (--token-auth-file); everything else is system:anonymous
//   - authorization: members of system:masters may do everything; anybody may
//     read /healthz, /livez, /readyz and /version; everything else is 403.
//
// Additionally the non-aggregated root discovery document (/apis) lists the
// groups of the served CRDs, as kube-apiserver's aggregator does.
package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/spf13/cobra"
	noopoteltrace "go.opentelemetry.io/otel/trace/noop"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	extensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	"k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	generatedopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/anonymous"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	unionauthn "k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/authorization/path"
	unionauthz "k8s.io/apiserver/pkg/authorization/union"
	genericapifilters "k8s.io/apiserver/pkg/endpoints/filters"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/apiserver/pkg/util/notfoundhandler"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/cache"
	"k8s.io/component-base/cli"
	"k8s.io/klog/v2"
)

type serverOptions struct {
	*options.CustomResourceDefinitionsServerOptions
	ClientCAFile  string
	TokenAuthFile string
}

func main() {
	ctx := genericapiserver.SetupSignalContext()

	o := &serverOptions{CustomResourceDefinitionsServerOptions: options.NewCustomResourceDefinitionsServerOptions(os.Stdout, os.Stderr)}
	ro := o.RecommendedOptions
	// Everything that needs a core kube-apiserver is switched off.
	ro.CoreAPI = nil
	ro.Admission = nil
	ro.Authentication = nil
	ro.Authorization = nil
	ro.Features.EnablePriorityAndFairness = false
	ro.SecureServing.BindAddress = []byte{127, 0, 0, 1}
	// Close open watches on SIGTERM instead of letting them hold the server
	// up for the 60 s shutdown timeout.
	o.ServerRunOptions.ShutdownWatchTerminationGracePeriod = 2 * time.Second

	cmd := &cobra.Command{
		Use:          "apiextensions-apiserver",
		Short:        "Standalone Kubernetes CRD API server (no core API) for tests",
		SilenceUsage: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return o.ServerRunOptions.ComponentGlobalsRegistry.Set()
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.ServerRunOptions.Complete(); err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(c)
		},
	}
	cmd.SetContext(ctx)
	fs := cmd.Flags()
	o.ServerRunOptions.AddUniversalFlags(fs)
	ro.Etcd.AddFlags(fs)
	ro.SecureServing.AddFlags(fs)
	ro.Audit.AddFlags(fs)
	ro.Features.AddFlags(fs)
	o.APIEnablement.AddFlags(fs)
	fs.StringVar(&o.ClientCAFile, "client-ca-file", "", "PEM CA bundle: client certificates signed by it authenticate as CN=user, O=groups.")
	fs.StringVar(&o.TokenAuthFile, "token-auth-file", "", "Static bearer tokens, CSV: token,user,uid,\"group1,group2\".")

	os.Exit(cli.Run(cmd))
}

func (o *serverOptions) validate() error {
	ro := o.RecommendedOptions
	errs := o.ServerRunOptions.Validate()
	errs = append(errs, ro.Etcd.Validate()...)
	errs = append(errs, ro.SecureServing.Validate()...)
	errs = append(errs, ro.Audit.Validate()...)
	errs = append(errs, ro.Features.Validate()...)
	errs = append(errs, o.APIEnablement.Validate(extensionsapiserver.Scheme)...)
	if o.ClientCAFile == "" && o.TokenAuthFile == "" {
		errs = append(errs, fmt.Errorf("at least one of --client-ca-file and --token-auth-file is required"))
	}
	if ro.Features.EnablePriorityAndFairness {
		errs = append(errs, fmt.Errorf("--enable-priority-and-fairness needs a core API server and is not supported"))
	}
	return utilerrors.NewAggregate(errs)
}

func (o *serverOptions) run(c *cobra.Command) error {
	ro := o.RecommendedOptions
	if err := ro.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{net.ParseIP("127.0.0.1")}); err != nil {
		return fmt.Errorf("error creating self-signed certificates: %w", err)
	}

	serverConfig := genericapiserver.NewRecommendedConfig(extensionsapiserver.Codecs)
	if err := o.ServerRunOptions.ApplyTo(&serverConfig.Config); err != nil {
		return err
	}
	// CoreAPI, Admission, Authentication and Authorization are nil: ApplyTo
	// skips them and leaves SharedInformerFactory and ClientConfig unset.
	if err := ro.ApplyTo(serverConfig); err != nil {
		return err
	}
	if err := o.APIEnablement.ApplyTo(&serverConfig.Config, extensionsapiserver.DefaultAPIResourceConfigSource(), extensionsapiserver.Scheme); err != nil {
		return err
	}
	if err := o.applyAuth(serverConfig); err != nil {
		return err
	}

	defs := openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(generatedopenapi.GetOpenAPIDefinitions)
	serverConfig.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(defs, openapinamer.NewDefinitionNamer(extensionsapiserver.Scheme, scheme.Scheme))
	serverConfig.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(defs, openapinamer.NewDefinitionNamer(extensionsapiserver.Scheme, scheme.Scheme))

	config := &extensionsapiserver.Config{
		GenericConfig: serverConfig,
		ExtraConfig: extensionsapiserver.ExtraConfig{
			CRDRESTOptionsGetter: options.NewCRDRESTOptionsGetter(*ro.Etcd, serverConfig.ResourceTransformers, serverConfig.StorageObjectCountTracker),
			ServiceResolver:      noServices{},
			AuthResolverWrapper:  webhook.NewDefaultAuthenticationInfoResolverWrapper(nil, nil, serverConfig.LoopbackClientConfig, noopoteltrace.NewTracerProvider()),
		},
	}
	completed := config.Complete()
	// Complete() switches the generic /apis discovery off because the
	// aggregator serves it in kube-apiserver; standalone, this server must.
	completed.GenericConfig.EnableDiscovery = true

	// As in kube-apiserver: unknown paths get a plain 404, and requests that
	// arrive before the CRD informer has synced get a 503 with Retry-After.
	notFound := notfoundhandler.New(serverConfig.Serializer, genericapifilters.NoMuxAndDiscoveryIncompleteKey)
	server, err := completed.New(genericapiserver.NewEmptyDelegateWithCustomHandler(notFound))
	if err != nil {
		return err
	}
	addCRDGroupsToRootDiscovery(server)
	return server.GenericAPIServer.PrepareRun().RunWithContext(c.Context())
}

func (o *serverOptions) applyAuth(c *genericapiserver.RecommendedConfig) error {
	var authenticators []authenticator.Request
	if o.ClientCAFile != "" {
		ca, err := dynamiccertificates.NewDynamicCAContentFromFile("client-ca-bundle", o.ClientCAFile)
		if err != nil {
			return fmt.Errorf("--client-ca-file: %w", err)
		}
		if err := c.Authentication.ApplyClientCert(ca, c.SecureServing); err != nil {
			return err
		}
		authenticators = append(authenticators, x509.NewDynamic(ca.VerifyOptions, x509.CommonNameUserConversion))
	}
	if o.TokenAuthFile != "" {
		tokens, err := tokenfile.NewCSV(o.TokenAuthFile)
		if err != nil {
			return fmt.Errorf("--token-auth-file: %w", err)
		}
		authenticators = append(authenticators, bearertoken.New(tokens))
	}
	c.Authentication.Authenticator = unionauthn.NewFailOnError(
		group.NewAuthenticatedGroupAdder(unionauthn.New(authenticators...)),
		anonymous.NewAuthenticator(nil),
	)

	publicPaths, err := path.NewAuthorizer([]string{"/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*", "/version", "/version/"})
	if err != nil {
		return err
	}
	c.Authorization.Authorizer = unionauthz.New(
		authorizerfactory.NewPrivilegedGroups("system:masters"),
		publicPaths,
		authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
			return authorizer.DecisionDeny, "only members of system:masters are authorized on this test server", nil
		}),
	)
	return nil
}

// noServices is the webhook ServiceResolver: there are no core Services here,
// so conversion webhooks must be configured with a URL.
type noServices struct{}

func (noServices) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	return nil, fmt.Errorf("service %s/%s:%d: this test API server has no core Services; use a webhook URL", namespace, name, port)
}

// addCRDGroupsToRootDiscovery keeps the non-aggregated /apis group list in
// sync with the served CRDs (aggregated discovery already includes them).
func addCRDGroupsToRootDiscovery(s *extensionsapiserver.CustomResourceDefinitions) {
	gm := s.GenericAPIServer.DiscoveryGroupManager
	informer := s.Informers.Apiextensions().V1().CustomResourceDefinitions()
	builtin := apiextensionsv1.GroupName
	known := map[string]bool{}
	resync := func() {
		crds, err := informer.Lister().List(labels.Everything())
		if err != nil {
			klog.ErrorS(err, "listing CRDs for root discovery")
			return
		}
		versions := map[string]map[string]bool{}
		for _, crd := range crds {
			g := crd.Spec.Group
			if g == builtin || !established(crd) {
				continue
			}
			for _, v := range crd.Spec.Versions {
				if v.Served {
					if versions[g] == nil {
						versions[g] = map[string]bool{}
					}
					versions[g][v.Name] = true
				}
			}
		}
		for g := range known {
			if versions[g] == nil {
				gm.RemoveGroup(g)
				delete(known, g)
			}
		}
		for g, vs := range versions {
			var list []metav1.GroupVersionForDiscovery
			for v := range vs {
				list = append(list, metav1.GroupVersionForDiscovery{GroupVersion: g + "/" + v, Version: v})
			}
			sort.Slice(list, func(i, j int) bool {
				return version.CompareKubeAwareVersionStrings(list[i].Version, list[j].Version) > 0
			})
			gm.AddGroup(metav1.APIGroup{Name: g, Versions: list, PreferredVersion: list[0]})
			known[g] = true
		}
	}
	var mu sync.Mutex
	handler := func(interface{}) { mu.Lock(); defer mu.Unlock(); resync() }
	_, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    handler,
		UpdateFunc: func(_, n interface{}) { handler(n) },
		DeleteFunc: handler,
	})
	if err != nil {
		klog.ErrorS(err, "registering root discovery handler")
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}
