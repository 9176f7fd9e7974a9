// helm-render: renders a Helm chart the way `helm template` does, for machines
// where no helm binary can be installed. Built by scripts/helm-render.sh from
// Debian's Go sources of text/template's companions (sprig, sigs.k8s.io/yaml,
// santhosh-tekuri/jsonschema, gopher-lua) in GOPATH mode.
//
// What it implements of Helm 3 (the semantics, written anew here):
//   - values: the chart's values.yaml, then every -f file deep-merged in order,
//     then --set-json / --set / --set-string / --set-file (Helm's strvals syntax:
//     a.b=c, a[0]=x, {x,y} lists, \, and \. escapes, typed scalars for --set),
//     coalesced with the chart defaults (a null deletes a default);
//   - values.schema.json validated against the coalesced values (JSON Schema
//     draft 4 to 2020-12, via santhosh-tekuri/jsonschema);
//   - .Values .Release .Chart .Capabilities .Files .Template .Subcharts;
//   - the whole sprig TxtFuncMap minus env/expandenv, plus Helm's include, tpl,
//     required, fail, lookup (always empty, as in `helm template`), toYaml,
//     toYamlPretty, fromYaml, fromYamlArray, toJson, fromJson, fromJsonArray,
//     mustToYaml, mustFromYaml, mustFromJson;
//   - missingkey=zero and "<no value>" removed; templates whose name starts
//     with "_" are parsed but not rendered; NOTES.txt is not a manifest;
//   - manifests split on "---", parsed (a YAML error fails the render), sorted
//     by Helm's install order of kinds (stable), printed as
//     "---\n# Source: <chart>/<path>\n<doc>" like `helm template`;
//   - crds/ printed first, verbatim, unless --skip-crds or the chart's
//     installCRDs value is false (see below);
//   - Chart.yaml kubeVersion checked against --kube-version.
//
// Two more commands serve the chart's tests: kube-validate decodes built-in
// objects strictly into their k8s.io/api Go types (as the API server decodes
// them: case-sensitive, unknown/duplicate fields and wrong types fail), and
// argocd-health runs an Argo CD Lua health script with gopher-lua, the Lua VM
// Argo CD embeds.
//
// Not implemented: subcharts/dependencies, library charts, hooks ordering by
// weight, .helmignore, toToml/fromToml, --post-renderer, `lookup` against a
// cluster, --set-literal, strict mode.
//
// installCRDs: Helm itself installs crds/ with `helm install` (skip with
// --skip-crds) and prints it with `helm template --include-crds`; it has no
// values switch. This renderer prints crds/ unless --skip-crds is given or the
// chart's values have installCRDs: false, so the chart's documented value and
// what GitOps tools do with --include-crds / skipCrds agree.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/semver/v3"
	"github.com/Masterminds/sprig/v3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	lua "github.com/yuin/gopher-lua"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
	goyaml3 "sigs.k8s.io/yaml/goyaml.v3"
)

const usage = `usage:
  helm-render template [NAME] CHART [flags]   render manifests like 'helm template'
  helm-render notes    [NAME] CHART [flags]   render templates/NOTES.txt
  helm-render values   [NAME] CHART [flags]   print the final (coalesced, validated) values
  helm-render kube-validate [MANIFESTS.yaml|-]
                                               decode each built-in object strictly into
                                               its k8s.io/api Go type (unknown or mistyped
                                               fields fail, as kubectl --validate=strict)
  helm-render argocd-health SCRIPT.lua [OBJECT.yaml|-]
                                               run an Argo CD Lua health check on each
                                               document; prints {"status":..,"message":..}

flags:
  -n, --namespace NS        release namespace (default "default")
  -f, --values FILE         values file (repeatable; later files win)
      --set K=V[,K=V]       set values, typed (repeatable)
      --set-string K=V      set values as strings (repeatable)
      --set-json K=JSON     set values from JSON (repeatable)
      --set-file K=PATH     set a value to a file's content (repeatable)
      --skip-crds           do not print crds/
      --include-crds        accepted for helm compatibility (the default here)
  -s, --show-only PATH      only print manifests from this template (repeatable)
      --kube-version V      Kubernetes version for .Capabilities (default v1.36.0)
  -a, --api-versions GV     extra API versions for .Capabilities.APIVersions (repeatable)
      --name-template N     release name (same as NAME)
`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- command line

type options struct {
	command     string
	release     string
	chartDir    string
	namespace   string
	valueFiles  []string
	sets        []string
	setStrings  []string
	setJSON     []string
	setFiles    []string
	skipCRDs    bool
	showOnly    []string
	kubeVersion string
	apiVersions []string
	positional  []string
}

func parseArgs(args []string) (*options, error) {
	if len(args) == 0 {
		return nil, errors.New(usage)
	}
	o := &options{command: args[0], namespace: "default", kubeVersion: "v1.36.0"}
	rest := args[1:]
	takesValue := map[string]*[]string{
		"-f": &o.valueFiles, "--values": &o.valueFiles,
		"--set": &o.sets, "--set-string": &o.setStrings, "--set-json": &o.setJSON, "--set-file": &o.setFiles,
		"-s": &o.showOnly, "--show-only": &o.showOnly,
		"-a": &o.apiVersions, "--api-versions": &o.apiVersions,
	}
	for i := 0; i < len(rest); i++ {
		arg := rest[i]
		name, value, hasValue := arg, "", false
		if strings.HasPrefix(arg, "--") {
			if k, v, ok := strings.Cut(arg, "="); ok {
				name, value, hasValue = k, v, true
			}
		}
		next := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if i+1 >= len(rest) {
				return "", fmt.Errorf("flag %s needs a value", name)
			}
			i++
			return rest[i], nil
		}
		if list, ok := takesValue[name]; ok {
			v, err := next()
			if err != nil {
				return nil, err
			}
			*list = append(*list, v)
			continue
		}
		switch name {
		case "-n", "--namespace":
			v, err := next()
			if err != nil {
				return nil, err
			}
			o.namespace = v
		case "--kube-version":
			v, err := next()
			if err != nil {
				return nil, err
			}
			o.kubeVersion = v
		case "--name-template", "--release-name":
			v, err := next()
			if err != nil {
				return nil, err
			}
			o.release = v
		case "--skip-crds":
			o.skipCRDs = true
		case "--include-crds":
		case "-h", "--help":
			return nil, errors.New(usage)
		default:
			if strings.HasPrefix(arg, "-") && arg != "-" {
				return nil, fmt.Errorf("unknown flag %s\n%s", arg, usage)
			}
			o.positional = append(o.positional, arg)
		}
	}
	return o, nil
}

func run(args []string, out io.Writer) error {
	o, err := parseArgs(args)
	if err != nil {
		return err
	}
	switch o.command {
	case "argocd-health":
		return argoHealth(o.positional, out)
	case "kube-validate":
		return kubeValidate(o.positional, out)
	case "template", "notes", "values":
	default:
		return fmt.Errorf("unknown command %q\n%s", o.command, usage)
	}
	switch len(o.positional) {
	case 1:
		o.chartDir = o.positional[0]
	case 2:
		o.release, o.chartDir = o.positional[0], o.positional[1]
	default:
		return fmt.Errorf("expected [NAME] CHART, got %q\n%s", o.positional, usage)
	}
	if o.release == "" {
		o.release = "release-name"
	}
	chart, err := loadChart(o.chartDir)
	if err != nil {
		return err
	}
	caps, err := capabilities(o)
	if err != nil {
		return err
	}
	if err := checkKubeVersion(chart, caps); err != nil {
		return err
	}
	user, err := userValues(o)
	if err != nil {
		return err
	}
	values := coalesce(user, deepCopy(chart.values).(map[string]interface{}))
	if err := validateSchema(chart, values); err != nil {
		return err
	}
	if o.command == "values" {
		b, err := yaml.Marshal(values)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": o.release, "Namespace": o.namespace, "IsUpgrade": false, "IsInstall": true,
			"Revision": 1, "Service": "Helm",
		},
		"Chart":        chartValues{chart.meta, true},
		"Capabilities": caps,
		"Files":        chart.files,
		"Subcharts":    map[string]interface{}{},
	}
	rendered, err := renderTemplates(chart, top)
	if err != nil {
		return err
	}
	if o.command == "notes" {
		for name, text := range rendered {
			if strings.HasSuffix(name, "NOTES.txt") {
				_, err := fmt.Fprintln(out, strings.TrimSpace(text))
				return err
			}
		}
		return errors.New("the chart has no templates/NOTES.txt")
	}
	return writeManifests(o, chart, values, rendered, out)
}

// ---------------------------------------------------------------- chart

type metadata struct {
	APIVersion   string            `json:"apiVersion,omitempty"`
	Name         string            `json:"name,omitempty"`
	Version      string            `json:"version,omitempty"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Description  string            `json:"description,omitempty"`
	Type         string            `json:"type,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Dependencies []interface{}     `json:"dependencies,omitempty"`
	Maintainers  []interface{}     `json:"maintainers,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Condition    string            `json:"condition,omitempty"`
	Tags         string            `json:"tags,omitempty"`
}

// chartValues is what .Chart is: the metadata's fields plus IsRoot.
type chartValues struct {
	metadata
	IsRoot bool
}

type file struct {
	name string // relative to the chart, with "/"
	data []byte
}

type loadedChart struct {
	dir       string
	meta      metadata
	values    map[string]interface{}
	schema    []byte
	templates []file
	crds      []file
	files     Files
}

func loadChart(dir string) (*loadedChart, error) {
	c := &loadedChart{dir: dir, files: Files{}, values: map[string]interface{}{}}
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a chart: %w", dir, err)
	}
	if err := yaml.UnmarshalStrict(raw, &c.meta); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %w", err)
	}
	switch {
	case c.meta.APIVersion != "v2" && c.meta.APIVersion != "v1":
		return nil, fmt.Errorf("Chart.yaml: apiVersion must be v1 or v2, got %q", c.meta.APIVersion)
	case c.meta.Name == "":
		return nil, errors.New("Chart.yaml: name is required")
	case c.meta.Version == "":
		return nil, errors.New("Chart.yaml: version is required")
	case c.meta.Type == "library":
		return nil, errors.New("library charts are not supported")
	case len(c.meta.Dependencies) > 0:
		return nil, errors.New("charts with dependencies are not supported by this renderer")
	}
	if _, err := semver.StrictNewVersion(c.meta.Version); err != nil {
		return nil, fmt.Errorf("Chart.yaml: version %q is not a valid SemVer 2 version: %w", c.meta.Version, err)
	}
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "charts" {
				return filepath.SkipDir
			}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case rel == "Chart.yaml":
		case rel == "values.yaml":
			if err := yaml.Unmarshal(data, &c.values); err != nil {
				return fmt.Errorf("values.yaml: %w", err)
			}
			if c.values == nil {
				c.values = map[string]interface{}{}
			}
		case rel == "values.schema.json":
			c.schema = data
		case strings.HasPrefix(rel, "templates/"):
			c.templates = append(c.templates, file{rel, data})
		default:
			if strings.HasPrefix(rel, "crds/") {
				c.crds = append(c.crds, file{rel, data})
			}
			c.files[rel] = data
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(c.crds, func(i, j int) bool { return c.crds[i].name < c.crds[j].name })
	return c, nil
}

// Files is .Files: the chart's files other than templates, Chart.yaml and values.
type Files map[string][]byte

func (f Files) GetBytes(name string) []byte { return f[name] }
func (f Files) Get(name string) string      { return string(f[name]) }

func (f Files) Lines(name string) []string {
	s := string(f[name])
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\n")
}

func (f Files) Glob(pattern string) Files {
	out := Files{}
	for name, data := range f {
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = data
		}
	}
	return out
}

func (f Files) AsConfig() string {
	m := map[string]string{}
	for name, data := range f {
		m[path.Base(name)] = string(data)
	}
	b, _ := yaml.Marshal(m)
	return strings.TrimSuffix(string(b), "\n")
}

func (f Files) AsSecrets() string {
	m := map[string][]byte{}
	for name, data := range f {
		m[path.Base(name)] = data
	}
	b, _ := yaml.Marshal(m)
	return strings.TrimSuffix(string(b), "\n")
}

// ---------------------------------------------------------------- capabilities

type KubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k *KubeVersion) String() string     { return k.Version }
func (k *KubeVersion) GitVersion() string { return k.Version }

type VersionSet []string

func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type HelmVersion struct {
	Version      string
	GitCommit    string
	GitTreeState string
	GoVersion    string
}

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion HelmVersion
}

// The built-in API group versions of Kubernetes 1.3x, as `helm template` assumes.
var builtinAPIVersions = []string{
	"v1", "admissionregistration.k8s.io/v1", "apiextensions.k8s.io/v1", "apiregistration.k8s.io/v1",
	"apps/v1", "authentication.k8s.io/v1", "authorization.k8s.io/v1", "autoscaling/v1", "autoscaling/v2",
	"batch/v1", "certificates.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1",
	"events.k8s.io/v1", "flowcontrol.apiserver.k8s.io/v1", "networking.k8s.io/v1", "node.k8s.io/v1",
	"policy/v1", "rbac.authorization.k8s.io/v1", "resource.k8s.io/v1", "scheduling.k8s.io/v1", "storage.k8s.io/v1",
}

func capabilities(o *options) (*Capabilities, error) {
	v, err := semver.NewVersion(o.kubeVersion)
	if err != nil {
		return nil, fmt.Errorf("--kube-version %q: %w", o.kubeVersion, err)
	}
	apis := append(VersionSet{}, builtinAPIVersions...)
	apis = append(apis, o.apiVersions...)
	return &Capabilities{
		KubeVersion: KubeVersion{
			Version: "v" + v.String(),
			Major:   strconv.FormatUint(v.Major(), 10),
			Minor:   strconv.FormatUint(v.Minor(), 10),
		},
		APIVersions: apis,
		HelmVersion: HelmVersion{Version: "v3-compatible (scripts/helm/render.go)", GoVersion: "go"},
	}, nil
}

func checkKubeVersion(c *loadedChart, caps *Capabilities) error {
	if c.meta.KubeVersion == "" {
		return nil
	}
	constraint, err := semver.NewConstraint(c.meta.KubeVersion)
	if err != nil {
		return fmt.Errorf("Chart.yaml: kubeVersion %q: %w", c.meta.KubeVersion, err)
	}
	v, err := semver.NewVersion(caps.KubeVersion.Version)
	if err != nil {
		return err
	}
	if !constraint.Check(v) {
		return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s",
			c.meta.KubeVersion, caps.KubeVersion.Version)
	}
	return nil
}

// ---------------------------------------------------------------- values

func userValues(o *options) (map[string]interface{}, error) {
	base := map[string]interface{}{}
	for _, f := range o.valueFiles {
		var data []byte
		var err error
		if f == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return nil, fmt.Errorf("values file: %w", err)
		}
		current := map[string]interface{}{}
		if err := yaml.Unmarshal(data, &current); err != nil {
			return nil, fmt.Errorf("failed to parse %s: %w", f, err)
		}
		base = mergeMaps(base, current)
	}
	for _, s := range o.setJSON {
		if err := parseSet(s, base, setJSON); err != nil {
			return nil, fmt.Errorf("failed parsing --set-json data %q: %w", s, err)
		}
	}
	for _, s := range o.sets {
		if err := parseSet(s, base, setTyped); err != nil {
			return nil, fmt.Errorf("failed parsing --set data %q: %w", s, err)
		}
	}
	for _, s := range o.setStrings {
		if err := parseSet(s, base, setString); err != nil {
			return nil, fmt.Errorf("failed parsing --set-string data %q: %w", s, err)
		}
	}
	for _, s := range o.setFiles {
		if err := parseSet(s, base, setFile); err != nil {
			return nil, fmt.Errorf("failed parsing --set-file data %q: %w", s, err)
		}
	}
	return base, nil
}

// mergeMaps deep-merges b into a copy of a (b wins), as `helm -f a -f b`.
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]interface{}); ok {
			if om, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(om, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce merges the chart defaults under the user's values: the user wins,
// a user null deletes the default, tables merge recursively.
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := deepCopy(user).(map[string]interface{})
	for k, dv := range defaults {
		uv, present := out[k]
		switch {
		case !present:
			out[k] = dv
		case uv == nil:
			delete(out, k)
		default:
			um, uok := uv.(map[string]interface{})
			dm, dok := dv.(map[string]interface{})
			if uok && dok {
				out[k] = coalesce(um, dm)
			} else if dok && !uok {
				fmt.Fprintf(os.Stderr, "coalesce.go: warning: skipped value for %s: Not a table.\n", k)
			}
		}
	}
	return out
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(t))
		for i, x := range t {
			l[i] = deepCopy(x)
		}
		return l
	default:
		return v
	}
}

type setMode int

const (
	setTyped setMode = iota
	setString
	setJSON
	setFile
)

// parseSet applies one --set style argument ("a.b=c,d[0]=e,f={x,y}") to dest.
func parseSet(s string, dest map[string]interface{}, mode setMode) error {
	if mode == setJSON {
		// --set-json takes one key=JSON per argument (JSON may contain commas).
		key, raw, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("key %q has no value", s)
		}
		var v interface{}
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return err
		}
		return setPath(dest, splitKey(key), v)
	}
	for _, pair := range splitUnescaped(s, ',', true) {
		if pair == "" {
			continue
		}
		key, raw, ok := cutUnescaped(pair, '=')
		if !ok {
			return fmt.Errorf("key %q has no value", unescape(pair))
		}
		var v interface{}
		switch {
		case mode == setFile:
			data, err := os.ReadFile(unescape(raw))
			if err != nil {
				return err
			}
			v = string(data)
		case strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}"):
			items := splitUnescaped(raw[1:len(raw)-1], ',', false)
			list := make([]interface{}, 0, len(items))
			for _, it := range items {
				list = append(list, scalar(unescape(it), mode))
			}
			v = list
		default:
			v = scalar(unescape(raw), mode)
		}
		if err := setPath(dest, splitKey(key), v); err != nil {
			return err
		}
	}
	return nil
}

var intRe = regexp.MustCompile(`^(0|-?[1-9][0-9]*)$`)

func scalar(s string, mode setMode) interface{} {
	if mode == setString {
		return s
	}
	switch {
	case strings.EqualFold(s, "true"):
		return true
	case strings.EqualFold(s, "false"):
		return false
	case strings.EqualFold(s, "null"):
		return nil
	case intRe.MatchString(s):
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return s
}

// splitUnescaped splits on sep outside of {...} (when braces) and not after "\".
func splitUnescaped(s string, sep byte, braces bool) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case braces && s[i] == '{':
			depth++
		case braces && s[i] == '}':
			if depth > 0 {
				depth--
			}
		case s[i] == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func cutUnescaped(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

type keyPart struct {
	name    string
	indexes []int
}

var indexRe = regexp.MustCompile(`\[(\d+)\]`)

func splitKey(key string) []keyPart {
	var parts []keyPart
	for _, raw := range splitUnescaped(key, '.', false) {
		name := raw
		var idx []int
		if i := strings.IndexByte(raw, '['); i >= 0 && strings.HasSuffix(raw, "]") {
			name = raw[:i]
			for _, m := range indexRe.FindAllStringSubmatch(raw[i:], -1) {
				n, _ := strconv.Atoi(m[1])
				idx = append(idx, n)
			}
		}
		parts = append(parts, keyPart{unescape(name), idx})
	}
	return parts
}

func setPath(m map[string]interface{}, parts []keyPart, v interface{}) error {
	p := parts[0]
	last := len(parts) == 1
	if p.name == "" {
		return errors.New("empty key")
	}
	if len(p.indexes) == 0 {
		if last {
			m[p.name] = v
			return nil
		}
		child, ok := m[p.name].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
			m[p.name] = child
		}
		return setPath(child, parts[1:], v)
	}
	list, _ := m[p.name].([]interface{})
	m[p.name] = setList(list, p.indexes, parts[1:], v)
	return nil
}

func setList(list []interface{}, idx []int, rest []keyPart, v interface{}) []interface{} {
	i := idx[0]
	for len(list) <= i {
		list = append(list, nil)
	}
	switch {
	case len(idx) > 1:
		inner, _ := list[i].([]interface{})
		list[i] = setList(inner, idx[1:], rest, v)
	case len(rest) == 0:
		list[i] = v
	default:
		child, ok := list[i].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
			list[i] = child
		}
		_ = setPath(child, rest, v)
	}
	return list
}

// ---------------------------------------------------------------- schema

func validateSchema(c *loadedChart, values map[string]interface{}) error {
	if len(c.schema) == 0 {
		return nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(c.schema))
	if err != nil {
		return fmt.Errorf("values.schema.json: %w", err)
	}
	compiler := jsonschema.NewCompiler()
	if err := compiler.AddResource("file:///values.schema.json", doc); err != nil {
		return fmt.Errorf("values.schema.json: %w", err)
	}
	schema, err := compiler.Compile("file:///values.schema.json")
	if err != nil {
		return fmt.Errorf("values.schema.json: %w", err)
	}
	// The validator wants JSON's own representation (json.Number, []any, ...).
	raw, err := json.Marshal(values)
	if err != nil {
		return err
	}
	instance, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	if err := schema.Validate(instance); err != nil {
		return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n%v",
			c.meta.Name, err)
	}
	return nil
}

// ---------------------------------------------------------------- engine

const (
	errStart = "HELM_ERR_START"
	errEnd   = "HELM_ERR_END"
)

var errRe = regexp.MustCompile(errStart + `((?s).*)` + errEnd)

func wrapErr(msg string) error { return errors.New(errStart + msg + errEnd) }

func toYAML(v interface{}) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

func funcMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	extra := template.FuncMap{
		"toYaml": toYAML,
		"mustToYaml": func(v interface{}) (string, error) {
			b, err := yaml.Marshal(v)
			return strings.TrimSuffix(string(b), "\n"), err
		},
		"toYamlPretty": func(v interface{}) string {
			var buf bytes.Buffer
			enc := goyaml3.NewEncoder(&buf)
			enc.SetIndent(2)
			if err := enc.Encode(v); err != nil {
				return ""
			}
			return strings.TrimSuffix(buf.String(), "\n")
		},
		"fromYaml": func(s string) map[string]interface{} {
			m := map[string]interface{}{}
			if err := yaml.Unmarshal([]byte(s), &m); err != nil {
				m["Error"] = err.Error()
			}
			return m
		},
		"mustFromYaml": func(s string) (map[string]interface{}, error) {
			m := map[string]interface{}{}
			err := yaml.Unmarshal([]byte(s), &m)
			return m, err
		},
		"fromYamlArray": func(s string) []interface{} {
			a := []interface{}{}
			if err := yaml.Unmarshal([]byte(s), &a); err != nil {
				a = []interface{}{err.Error()}
			}
			return a
		},
		"toJson": func(v interface{}) string {
			b, err := json.Marshal(v)
			if err != nil {
				return ""
			}
			return string(b)
		},
		"fromJson": func(s string) map[string]interface{} {
			m := map[string]interface{}{}
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				m["Error"] = err.Error()
			}
			return m
		},
		"mustFromJson": func(s string) (map[string]interface{}, error) {
			m := map[string]interface{}{}
			err := json.Unmarshal([]byte(s), &m)
			return m, err
		},
		"fromJsonArray": func(s string) []interface{} {
			a := []interface{}{}
			if err := json.Unmarshal([]byte(s), &a); err != nil {
				a = []interface{}{err.Error()}
			}
			return a
		},
		"required": func(msg string, v interface{}) (interface{}, error) {
			if v == nil {
				return v, wrapErr(msg)
			}
			if s, ok := v.(string); ok && s == "" {
				return v, wrapErr(msg)
			}
			return v, nil
		},
		"fail": func(msg string) (string, error) { return "", wrapErr(msg) },
		"lookup": func(string, string, string, string) (map[string]interface{}, error) {
			return map[string]interface{}{}, nil
		},
		// Late-bound below; declared so that parsing knows them.
		"include": func(string, interface{}) (string, error) { return "", nil },
		"tpl":     func(string, interface{}) (string, error) { return "", nil },
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// sortTemplates orders template names as Helm parses them: deeper paths first,
// then reverse lexical order (so that later definitions of a name win the same way).
func sortTemplates(names []string) {
	sort.Slice(names, func(i, j int) bool {
		a, b := names[i], names[j]
		ca, cb := strings.Count(a, "/"), strings.Count(b, "/")
		if ca != cb {
			return ca > cb
		}
		return a > b
	})
}

func renderTemplates(c *loadedChart, top map[string]interface{}) (map[string]string, error) {
	t := template.New("gotpl").Option("missingkey=zero")
	funcs := funcMap()
	depth := map[string]int{}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if depth[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s: unable to execute template", name)
		}
		depth[name]++
		defer func() { depth[name]-- }()
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, vals interface{}) (string, error) {
		name := "tpl"
		if m, ok := vals.(map[string]interface{}); ok {
			if tm, ok := m["Template"].(map[string]interface{}); ok {
				if n, ok := tm["Name"].(string); ok {
					name = n
				}
			}
		}
		clone, err := t.Clone()
		if err != nil {
			return "", err
		}
		if _, err := clone.New(name).Parse(text); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		var buf strings.Builder
		if err := clone.ExecuteTemplate(&buf, name, vals); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	t.Funcs(funcs)

	prefix := c.meta.Name + "/"
	byName := map[string][]byte{}
	var names []string
	for _, f := range c.templates {
		names = append(names, prefix+f.name)
		byName[prefix+f.name] = f.data
	}
	sortTemplates(names)
	for _, name := range names {
		if _, err := t.New(name).Parse(string(byName[name])); err != nil {
			return nil, parseError(name, err)
		}
	}
	out := map[string]string{}
	for _, name := range names {
		if strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		vals := make(map[string]interface{}, len(top)+1)
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{"Name": name, "BasePath": prefix + "templates"}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, name, vals); err != nil {
			return nil, execError(name, err)
		}
		out[name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

func parseError(name string, err error) error {
	tokens := strings.Split(err.Error(), ": ")
	if len(tokens) < 3 {
		return fmt.Errorf("parse error in (%s): %s", name, err)
	}
	return fmt.Errorf("parse error at (%s): %s", tokens[1], tokens[len(tokens)-1])
}

func execError(name string, err error) error {
	var ee template.ExecError
	if !errors.As(err, &ee) {
		return fmt.Errorf("%s: %w", name, err)
	}
	tokens := strings.SplitN(err.Error(), ": ", 3)
	if len(tokens) != 3 {
		return fmt.Errorf("execution error in (%s): %s", name, err)
	}
	if m := errRe.FindStringSubmatch(tokens[2]); len(m) >= 2 {
		return fmt.Errorf("execution error at (%s): %s", tokens[1], m[1])
	}
	return err
}

// ---------------------------------------------------------------- manifests

// Helm's install order of kinds; unknown kinds go last, alphabetically.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
	"PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
	"PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
	"ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
	"RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
	"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
}

type manifest struct {
	source  string
	content string
	kind    string
	hook    bool
}

var docSep = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

func splitManifests(s string) []string {
	var docs []string
	for _, d := range docSep.Split(strings.TrimSpace(s), -1) {
		if d = strings.TrimSpace(d); d != "" {
			docs = append(docs, d)
		}
	}
	return docs
}

type head struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   *struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
}

func writeManifests(o *options, c *loadedChart, values map[string]interface{}, rendered map[string]string, out io.Writer) error {
	var paths []string
	for p := range rendered {
		if strings.HasSuffix(p, "NOTES.txt") || strings.TrimSpace(rendered[p]) == "" {
			continue
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var manifests []manifest
	for _, p := range paths {
		for _, doc := range splitManifests(rendered[p]) {
			var h head
			if err := yaml.Unmarshal([]byte(doc), &h); err != nil {
				return fmt.Errorf("YAML parse error on %s: %w", p, err)
			}
			hook := h.Metadata != nil && h.Metadata.Annotations["helm.sh/hook"] != ""
			manifests = append(manifests, manifest{source: p, content: doc, kind: h.Kind, hook: hook})
		}
	}
	rank := map[string]int{}
	for i, k := range installOrder {
		rank[k] = i
	}
	sort.SliceStable(manifests, func(i, j int) bool {
		a, aok := rank[manifests[i].kind]
		b, bok := rank[manifests[j].kind]
		switch {
		case !aok && !bok:
			return manifests[i].kind < manifests[j].kind
		case !aok:
			return false
		case !bok:
			return true
		}
		return a < b
	})
	shown := func(source string) bool {
		if len(o.showOnly) == 0 {
			return true
		}
		for _, s := range o.showOnly {
			s = filepath.ToSlash(s)
			if source == s || source == c.meta.Name+"/"+s {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	installCRDs := true
	if v, ok := values["installCRDs"].(bool); ok {
		installCRDs = v
	}
	if !o.skipCRDs && installCRDs && len(o.showOnly) == 0 {
		for _, crd := range c.crds {
			fmt.Fprintf(&b, "---\n# Source: %s/%s\n%s\n", c.meta.Name, crd.name, string(crd.data))
		}
	}
	matched := 0
	for _, hooks := range []bool{false, true} {
		for _, m := range manifests {
			if m.hook != hooks || !shown(m.source) {
				continue
			}
			matched++
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.source, m.content)
		}
	}
	if len(o.showOnly) > 0 && matched == 0 {
		return fmt.Errorf("could not find template %s in chart", strings.Join(o.showOnly, ", "))
	}
	_, err := fmt.Fprintln(out, strings.TrimSpace(b.String()))
	return err
}

// ---------------------------------------------------------------- Argo CD health

// argoHealth runs an Argo CD resource health script (Lua 5.1, gopher-lua as in
// Argo CD) with the global `obj` set to each document of the input.
func argoHealth(args []string, out io.Writer) error {
	if len(args) < 1 || len(args) > 2 {
		return errors.New("usage: helm-render argocd-health SCRIPT.lua [OBJECT.yaml|-]")
	}
	script, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var input []byte
	if len(args) == 1 || args[1] == "-" {
		input, err = io.ReadAll(os.Stdin)
	} else {
		input, err = os.ReadFile(args[1])
	}
	if err != nil {
		return err
	}
	for _, doc := range splitManifests(string(input)) {
		var obj map[string]interface{}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return fmt.Errorf("object: %w", err)
		}
		L := lua.NewState(lua.Options{SkipOpenLibs: true})
		for _, open := range []lua.LGFunction{lua.OpenBase, lua.OpenTable, lua.OpenString, lua.OpenMath} {
			L.Push(L.NewFunction(open))
			L.Call(0, 0)
		}
		L.SetGlobal("obj", toLua(L, obj))
		if err := L.DoString(string(script)); err != nil {
			L.Close()
			return fmt.Errorf("%s: %w", args[0], err)
		}
		result, ok := L.Get(-1).(*lua.LTable)
		if !ok {
			L.Close()
			return fmt.Errorf("%s did not return a table", args[0])
		}
		status := map[string]string{
			"status":  lua.LVAsString(result.RawGetString("status")),
			"message": lua.LVAsString(result.RawGetString("message")),
		}
		L.Close()
		b, _ := json.Marshal(status)
		fmt.Fprintln(out, string(b))
	}
	return nil
}

func toLua(L *lua.LState, v interface{}) lua.LValue {
	switch t := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(t)
	case string:
		return lua.LString(t)
	case float64:
		return lua.LNumber(t)
	case int64:
		return lua.LNumber(t)
	case map[string]interface{}:
		tb := L.NewTable()
		for k, x := range t {
			tb.RawSetString(k, toLua(L, x))
		}
		return tb
	case []interface{}:
		tb := L.NewTable()
		for i, x := range t {
			L.RawSetInt(tb, i+1, toLua(L, x))
		}
		return tb
	default:
		return lua.LString(fmt.Sprint(t))
	}
}

// ---------------------------------------------------------------- kube-validate

// Go types of the built-in kinds the chart renders, from Debian's k8s.io/api.
var builtinKinds = map[string]func() interface{}{
	"v1/ServiceAccount":  func() interface{} { return &corev1.ServiceAccount{} },
	"v1/Service":         func() interface{} { return &corev1.Service{} },
	"v1/Namespace":       func() interface{} { return &corev1.Namespace{} },
	"v1/ConfigMap":       func() interface{} { return &corev1.ConfigMap{} },
	"v1/Secret":          func() interface{} { return &corev1.Secret{} },
	"apps/v1/Deployment": func() interface{} { return &appsv1.Deployment{} },
	"rbac.authorization.k8s.io/v1/ClusterRole":        func() interface{} { return &rbacv1.ClusterRole{} },
	"rbac.authorization.k8s.io/v1/ClusterRoleBinding": func() interface{} { return &rbacv1.ClusterRoleBinding{} },
	"rbac.authorization.k8s.io/v1/Role":               func() interface{} { return &rbacv1.Role{} },
	"rbac.authorization.k8s.io/v1/RoleBinding":        func() interface{} { return &rbacv1.RoleBinding{} },
}

// kubeValidate decodes every document of a manifest stream strictly into its
// Go type, the way the API server does: a field the type does not have (names
// are case-sensitive), a duplicate field, or a value of the wrong type is an
// error (what `kubectl apply --validate=strict` reports).
// Kinds it has no type for are listed as skipped. It does not run the API
// server's semantic validation (name formats, ranges, cross-field rules).
func kubeValidate(args []string, out io.Writer) error {
	var input []byte
	var err error
	if len(args) == 0 || args[0] == "-" {
		input, err = io.ReadAll(os.Stdin)
	} else {
		input, err = os.ReadFile(args[0])
	}
	if err != nil {
		return err
	}
	var failures []string
	for i, doc := range splitManifests(string(input)) {
		var h head
		if err := yaml.Unmarshal([]byte(doc), &h); err != nil {
			failures = append(failures, fmt.Sprintf("document %d: %v", i+1, err))
			continue
		}
		name := ""
		if h.Metadata != nil {
			name = h.Metadata.Name
		}
		key := h.APIVersion + "/" + h.Kind
		newObj, known := builtinKinds[key]
		if !known {
			fmt.Fprintf(out, "skipped %s %s (no built-in type)\n", key, name)
			continue
		}
		// As the API server decodes: case-sensitive field names, unknown and
		// duplicate fields reported (sigs.k8s.io/json), after YAML → JSON.
		data, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s %s: %v", key, name, err))
			continue
		}
		strict, err := sigsjson.UnmarshalStrict(data, newObj())
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s %s: %v", key, name, err))
			continue
		}
		if len(strict) > 0 {
			var msgs []string
			for _, e := range strict {
				msgs = append(msgs, e.Error())
			}
			failures = append(failures, fmt.Sprintf("%s %s: %s", key, name, strings.Join(msgs, "; ")))
			continue
		}
		fmt.Fprintf(out, "valid %s %s\n", key, name)
	}
	if len(failures) > 0 {
		return errors.New("invalid objects:\n  " + strings.Join(failures, "\n  "))
	}
	return nil
}
