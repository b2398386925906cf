{{- define "opsn.labels" }}
app.kubernetes.io/name: opsn
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{- define "opsn.env" }}
- name: OPSN_ENVIRONMENT
  value: production
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
- name: OPSN_OPERATOR_SIREN
  value: {{ .Values.operator.siren | quote }}
- name: OPSN_OPERATOR_ADDRESS
  value: {{ .Values.operator.address | quote }}
- name: OPSN_OPERATOR_POSTCODE
  value: {{ .Values.operator.postcode | quote }}
- name: OPSN_OPERATOR_CITY
  value: {{ .Values.operator.city | quote }}
- name: OPSN_OPERATOR_IBAN
  value: {{ .Values.operator.iban | quote }}
- name: OPSN_OPERATOR_VAT_NUMBER
  value: {{ .Values.operator.vatNumber | quote }}
- name: OPSN_OPERATOR_TAX_REGISTRATION
  value: {{ .Values.operator.taxRegistration | quote }}
- name: OPSN_IDP
  value: keycloak
- name: OPSN_OIDC_ISSUER
  value: {{ .Values.identity.issuer | quote }}
- name: OPSN_OIDC_CLIENT_ID
  value: {{ .Values.identity.clientId | quote }}
- name: OPSN_KEYCLOAK_SERVER_URL
  value: {{ .Values.identity.keycloak.serverUrl | quote }}
- name: OPSN_KEYCLOAK_REALM
  value: {{ .Values.identity.keycloak.realm | quote }}
- name: OPSN_KEYCLOAK_ADMIN_CLIENT_ID
  value: {{ .Values.identity.keycloak.adminClientId | quote }}
- name: OPSN_PAYFIP
  value: payfip
- name: OPSN_RELEASE
  value: {{ .Chart.AppVersion | quote }}
- name: OPSN_DATA_DIR
  value: /var/lib/opsn
- name: WHITENOISE_USE_FINDERS
  value: "false"
- name: BEHIND_TLS_PROXY
  value: "true"
- name: OPSN_TRUSTED_PROXIES
  value: {{ .Values.ingress.trustedProxies | quote }}
- name: SECURE_COOKIES
  value: "true"
- name: SECURE_HSTS_SECONDS
  value: "31536000"
- name: LOG_FORMAT
  value: json
- name: OPSN_DB_MAX_SCHEMAS_PER_CONNECTION
  value: {{ .Values.database.maxSchemasPerConnection | quote }}
- name: CONN_MAX_AGE
  value: {{ .Values.database.connMaxAge | quote }}
- name: SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: SECRET_KEY}}
- name: DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: DATABASE_URL}}
- name: OPSN_BROKER_URL
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: OPSN_BROKER_URL}}
- name: EMAIL_URL
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: EMAIL_URL}}
- name: OPSN_OIDC_CLIENT_SECRET
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: OPSN_OIDC_CLIENT_SECRET}}
- name: OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET}}
- name: OPSN_METRICS_TOKEN
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: OPSN_METRICS_TOKEN}}
- name: SENTRY_DSN
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: SENTRY_DSN, optional: true}}
- name: OPSN_COMMUNE_DATABASES
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.existingSecret }}, key: OPSN_COMMUNE_DATABASES, optional: true}}
{{- if .Values.extraEnv }}
{{- toYaml .Values.extraEnv | nindent 0 }}
{{- end }}
{{- end }}

{{- define "opsn.podSecurity" }}
runAsNonRoot: true
runAsUser: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: [ALL]}
{{- end }}
