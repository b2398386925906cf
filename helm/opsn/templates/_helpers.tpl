{{- define "opsn.labels" }}
app.kubernetes.io/name: opsn
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{- define "opsn.env" }}
- name: OPSN_BASE_DOMAIN
  value: {{ .Values.baseDomain | quote }}
- name: OPSN_CONSOLE_HOST
  value: {{ .Values.consoleHost | quote }}
- name: OPSN_OPERATOR_NAME
  value: {{ .Values.operator.name | quote }}
- name: OPSN_OPERATOR_SHORT_NAME
  value: {{ .Values.operator.shortName | quote }}
- name: OPSN_OPERATOR_EMAIL
  value: {{ .Values.operator.email | quote }}
- name: OPSN_OPERATOR_PHONE
  value: {{ .Values.operator.phone | quote }}
- name: OPSN_RELEASE
  value: {{ .Chart.AppVersion | quote }}
- name: OPSN_ENVIRONMENT
  value: production
- name: OPSN_DATA_DIR
  value: /var/lib/opsn
- name: WHITENOISE_USE_FINDERS
  value: "false"
- name: BEHIND_TLS_PROXY
  value: "true"
- name: SECURE_COOKIES
  value: "true"
- name: SECURE_HSTS_SECONDS
  value: "31536000"
- name: LOG_FORMAT
  value: json
- name: SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: SECRET_KEY}}
- name: DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: DATABASE_URL}}
- name: OPSN_BROKER_URL
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: OPSN_BROKER_URL}}
- name: SENTRY_DSN
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: SENTRY_DSN, optional: true}}
- name: OPSN_METRICS_TOKEN
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: OPSN_METRICS_TOKEN, optional: true}}
- name: OPSN_COMMUNE_DATABASES
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: OPSN_COMMUNE_DATABASES, optional: true}}
{{- end }}

{{- define "opsn.podSecurity" }}
runAsNonRoot: true
runAsUser: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: [ALL]}
{{- end }}
