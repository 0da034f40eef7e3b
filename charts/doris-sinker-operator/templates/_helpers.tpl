{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "dso.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, plus the chart name unless it already contains it. */}}
{{- define "dso.fullname" -}}
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

{{/*
The fullname with a suffix ("metrics", "leader-election"), within 63 characters: the fullname is cut
to make room, so the suffix survives a long release name (a Service name is a DNS label).
Called as: include "dso.suffixedName" (list . "metrics")
*/}}
{{- define "dso.suffixedName" -}}
{{- $suffix := index . 1 }}
{{- $base := include "dso.fullname" (index . 0) | trunc (int (sub 62 (len $suffix))) | trimSuffix "-" }}
{{- printf "%s-%s" $base $suffix }}
{{- end }}

{{- define "dso.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dso.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dso.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dso.labels" -}}
helm.sh/chart: {{ include "dso.chart" . }}
{{ include "dso.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: doris-sinker
{{- end }}

{{/* With serviceAccount.create=false the schema requires a name: never the namespace's "default" account. */}}
{{- define "dso.serviceAccountName" -}}
{{- default (include "dso.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{- /*
An image tag as the user typed it. --set gives a string or an integer, both printed as typed; a
number in a values file reaches the chart as a float (1.10 is 1.1, 20241125 prints as 2.0241125e+07),
which would name another image: refused, asking for quotes.
Called as: include "dso.tag" (list .Values.image "image" .Chart.AppVersion)
*/}}
{{- define "dso.tag" -}}
{{- $tag := (index . 0).tag }}
{{- if kindIs "float64" $tag }}
{{- fail (printf "%s.tag: %v is a YAML number, not the tag written (1.10 reads as 1.1); quote it: tag: \"...\"" (index . 1) $tag) }}
{{- end }}
{{- toString (default (index . 2) $tag) }}
{{- end }}

{{- define "dso.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "dso.tag" (list .Values.image "image" .Chart.AppVersion)) }}
{{- end }}

{{- define "dso.sinkerImage" -}}
{{- printf "%s:%s" .Values.sinkerImage.repository (include "dso.tag" (list .Values.sinkerImage "sinkerImage" .Chart.AppVersion)) }}
{{- end }}

{{- define "dso.leaseName" -}}
{{- default (include "dso.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/* True when the cluster serves the Prometheus Operator's API (ServiceMonitor, PodMonitor, PrometheusRule). */}}
{{- define "dso.hasMonitoringApi" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end }}
{{- end }}
