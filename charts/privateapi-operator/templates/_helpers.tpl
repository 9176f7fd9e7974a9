{{/* Chart name, cut to the 63 characters of a label value. */}}
{{- define "privateapi-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: the release name when it already contains
the chart name (so `helm install privateapi-operator ...` gives
"privateapi-operator"), else "<release>-<chart>".
*/}}
{{- define "privateapi-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "privateapi-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "privateapi-operator.labels" -}}
helm.sh/chart: {{ include "privateapi-operator.chart" . }}
{{ include "privateapi-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: privateapi
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels selecting the operator's pods (immutable in a Deployment: keep them few). */}}
{{- define "privateapi-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "privateapi-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "privateapi-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "privateapi-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "privateapi-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The namespace the namespaced RBAC lives in; rbac.scope=namespace needs one.
*/}}
{{- define "privateapi-operator.rbacNamespace" -}}
{{- required "rbac.scope=namespace needs watchNamespace (the namespace whose PrivateApi objects the operator may reconcile)" .Values.watchNamespace }}
{{- end }}

{{/*
"true" when a namespace policy rule selects namespaces by label (the operator then
reads namespaces), empty otherwise.
*/}}
{{- define "privateapi-operator.policyUsesLabels" -}}
{{- if .Values.namespacePolicy.enabled }}
{{- range .Values.namespacePolicy.rules }}
{{- if .namespaceSelector }}true{{- end }}
{{- end }}
{{- end }}
{{- end }}
