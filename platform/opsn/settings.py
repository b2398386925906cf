"""Settings, all read from the environment (12-factor). Each one is documented in
docs/settings.md; a secret may also be given as a file path in ``<NAME>_FILE``."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

import environ
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from opsn.kernel.addresses import trusted_networks
from opsn.kernel.database import commune_databases, embedded_aliases, embedded_database_settings
from opsn.kernel.production import (
    DEMO_BASE_DOMAIN,
    DEMO_OIDC_CLIENT_SECRET,
    DEMO_OPERATOR,
    DEVELOPMENT_SECRET_KEY,
    PRODUCTION,
)
from opsn.kernel.rates import setting as rate_setting
from opsn.operations.logs import log_format

REPO_DIR = Path(__file__).resolve().parents[2]
env = environ.Env()


def secret(name: str, default: str | None = None) -> str | None:
    """Read a secret from ``NAME`` or from the file named by ``NAME_FILE``."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


DEBUG = env.bool("DEBUG", default=False)
# "production" refuses to start on any of the demo's values below (opsn.kernel.production:
# `opsn check --deploy` lists them, every entry point runs the same check).
OPSN_ENVIRONMENT = env.str("OPSN_ENVIRONMENT", default="development")
_production = OPSN_ENVIRONMENT == PRODUCTION
DATA_DIR = Path(env.str("OPSN_DATA_DIR", default=str(REPO_DIR / "var")))
# Development and tests only: production must set SECRET_KEY.
SECRET_KEY = secret("SECRET_KEY") or DEVELOPMENT_SECRET_KEY

# --- The operator -------------------------------------------------------------------------
OPSN_BASE_DOMAIN = env.str("OPSN_BASE_DOMAIN", default=DEMO_BASE_DOMAIN).lower()
OPSN_CONSOLE_HOST = env.str("OPSN_CONSOLE_HOST", default=f"console.{OPSN_BASE_DOMAIN}").lower()
# Hosts served by the public schema: the operator's console and portal.
OPSN_OPERATOR_HOSTS = frozenset(
    h.strip().lower()
    for h in env.list("OPSN_OPERATOR_HOSTS", default=[OPSN_CONSOLE_HOST, OPSN_BASE_DOMAIN])
)
# The operator's identity defaults to the demo's (opsn.kernel.production), which production
# refuses. The last six are the seller on the invoices and in their Factur-X XML.
OPSN_OPERATOR = {
    key: env.str(variable, default=DEMO_OPERATOR[variable])
    for key, variable in (("name", "OPSN_OPERATOR_NAME"), ("email", "OPSN_OPERATOR_EMAIL"),
                          ("phone", "OPSN_OPERATOR_PHONE"), ("siren", "OPSN_OPERATOR_SIREN"),
                          ("address", "OPSN_OPERATOR_ADDRESS"),
                          ("postcode", "OPSN_OPERATOR_POSTCODE"),
                          ("city", "OPSN_OPERATOR_CITY"), ("iban", "OPSN_OPERATOR_IBAN"),
                          ("vat_number", "OPSN_OPERATOR_VAT_NUMBER"))
}
# The seller's tax registration identifier (EN 16931 BT-32), beside its VAT number (BT-31):
# optional, on the titres when given.
OPSN_OPERATOR["tax_registration"] = env.str("OPSN_OPERATOR_TAX_REGISTRATION", default="")
OPSN_OPERATOR["short_name"] = env.str("OPSN_OPERATOR_SHORT_NAME", default="OPSN")
OPSN_OPERATOR["primary_color"] = env.str("OPSN_OPERATOR_PRIMARY_COLOR", default="#1F3A68")
# Public-service notices (docs/public-service.md). The operator's director of publication
# and data protection officer (a commune names its own DPO or keeps this one); who runs the
# servers, when not the operator itself; the accessibility audit of the platform (RGAA 4.1),
# every site's statement until a commune edits its own: conformity « totale »,
# « partielle » or « non » (never audited), audit date (YYYY-MM-DD), rate (%), auditor.
OPSN_PUBLICATION_DIRECTOR = env.str(
    "OPSN_PUBLICATION_DIRECTOR",
    default=f"Le président ou la présidente de {OPSN_OPERATOR['name']}")
OPSN_DPO_CONTACT = env.str("OPSN_DPO_CONTACT", default=OPSN_OPERATOR["email"])
OPSN_HOSTING_PROVIDER = env.str("OPSN_HOSTING_PROVIDER", default="")
# Payers' personal data (docs/public-service.md, « Erasure and retention »): how many years
# after a payer's last invoice or payment its contact details are erased and its name
# pseudonymised (unless linked to a citizen's account or owing money). A commune may set
# its own on /espace/mentions/. Default 5: a default to be confirmed by each commune's DPO.
OPSN_PAYER_RETENTION_YEARS = env.int("OPSN_PAYER_RETENTION_YEARS", default=5)
# SEPA direct debit: days before the debit a family receives its pre-notification (the
# SEPA rulebook's 14 unless agreed otherwise with the debtor): docs/direct-debit.md.
OPSN_SEPA_PRENOTIFICATION_DAYS = env.int("OPSN_SEPA_PRENOTIFICATION_DAYS", default=14)
OPSN_ACCESSIBILITY_CONFORMITY = env.str("OPSN_ACCESSIBILITY_CONFORMITY", default="non")
OPSN_ACCESSIBILITY_AUDIT_DATE = env.str("OPSN_ACCESSIBILITY_AUDIT_DATE", default="")
OPSN_ACCESSIBILITY_AUDIT_RATE = env.str("OPSN_ACCESSIBILITY_AUDIT_RATE", default="")
OPSN_ACCESSIBILITY_AUDIT_BY = env.str("OPSN_ACCESSIBILITY_AUDIT_BY", default="")
# The console's and portal's « Je donne mon avis » button (Services Publics +): the
# démarche's identifier and key; unset, no button. A commune sets its own in its notices.
OPSN_AVIS_SERVICE_ID = env.str("OPSN_AVIS_SERVICE_ID", default="")
OPSN_AVIS_KEY = env.str("OPSN_AVIS_KEY", default="")
# The public forge of the source code (AGPL-3.0 §13); unset, /code-source/ offers only the
# archive of the running code.
OPSN_SOURCE_URL = env.str("OPSN_SOURCE_URL", default="")
# Billing calendar (convention of Montpellier Méditerranée Métropole, seeds/004): a commune
# may contest an invoice within 8 jours francs of receiving it (opsn.kernel.calendar) and
# pays within 30 days. A titre sent through Chorus Pro is deemed received this many days
# after it was sent.
OPSN_INVOICE_CONTEST_DAYS = env.int("OPSN_INVOICE_CONTEST_DAYS", default=8)
OPSN_INVOICE_RECEIPT_DAYS = env.int("OPSN_INVOICE_RECEIPT_DAYS", default=1)
# The year's titres go out by 30 September (month, day): the billing page warns from the
# first of that month while they are not issued and sent.
OPSN_INVOICE_SENDING_DEADLINE = (9, 30)
OPSN_INVOICE_PAYMENT_DAYS = env.int("OPSN_INVOICE_PAYMENT_DAYS", default=30)
# Adding or removing an application, or leaving: requested at least this many months before
# the end of the year, effective on 1 January of the next year.
OPSN_SUBSCRIPTION_NOTICE_MONTHS = env.int("OPSN_SUBSCRIPTION_NOTICE_MONTHS", default=3)
# Cash payments of public debts are capped (CGI art. 1680).
OPSN_CASH_PAYMENT_LIMIT = env.int("OPSN_CASH_PAYMENT_LIMIT", default=300)
# A régie's agents are warned when the cash and cheques held reach this share of its
# maximum (encaisse); at the maximum no more are taken until a deposit.
OPSN_CASH_WARNING_PERCENT = env.int("OPSN_CASH_WARNING_PERCENT", default=80)
# Link codes typed by citizens: this many wrong codes within the window (per person, or
# four times as many from one address) make them wait until the window has passed; this
# many in a day lock code linking for the day. Counted atomically before each code is
# checked (opsn.operations.throttle).
OPSN_LINK_WINDOW_MINUTES = env.int("OPSN_LINK_WINDOW_MINUTES", default=15)
OPSN_LINK_MAX_FAILURES = env.int("OPSN_LINK_MAX_FAILURES", default=5)
OPSN_LINK_LOCK_FAILURES = env.int("OPSN_LINK_LOCK_FAILURES", default=20)
OPSN_ROUTING_CACHE_SECONDS = env.float("OPSN_ROUTING_CACHE_SECONDS", default=5.0)
OPSN_EXPORT_DIR = Path(env.str("OPSN_EXPORT_DIR", default=str(DATA_DIR / "exports")))
# Processes that render a batch of invoice PDFs (docs/decisions/0016-invoice-documents.md).
OPSN_DOCUMENT_WORKERS = env.int("OPSN_DOCUMENT_WORKERS", default=os.cpu_count() or 1)
OPSN_SCHEMA_POOL_SIZE = env.int("OPSN_SCHEMA_POOL_SIZE", default=2)
# A régie's imported file (invoices CSV, card terminal CSV, CAMT.053 statement) is refused
# above this size, on the agents' page and on the command line.
OPSN_IMPORT_MAX_MEGABYTES = env.int("OPSN_IMPORT_MAX_MEGABYTES", default=20)
# Background jobs (dramatiq): amqp://… (RabbitMQ) or redis://…; unset: an in-process broker
# and worker (no service needed). OPSN_JOBS_MODE=inline runs jobs at once (tests).
OPSN_BROKER_URL = env.str("OPSN_BROKER_URL", default="")
OPSN_JOBS_MODE = env.str("OPSN_JOBS_MODE", default="broker")
# At exit, the in-process worker finishes its queued jobs for at most this long, then stops
# (before the embedded database does).
OPSN_JOBS_DRAIN_SECONDS = env.float("OPSN_JOBS_DRAIN_SECONDS", default=60.0)

# Online payment (PayFiP, DGFiP): "payfip" is the DGFiP's web service (production);
# "local" the local test provider served on the portal under /payfip-local/ (demo, tests).
# The default follows OPSN_ENVIRONMENT: never the test provider in production by mistake.
OPSN_PAYFIP = env.str("OPSN_PAYFIP", default="local" if OPSN_ENVIRONMENT == "development"
                      else "payfip")
OPSN_PAYFIP_SERVICE_URL = env.str("OPSN_PAYFIP_SERVICE_URL",
                                  default="https://www.payfip.gouv.fr/tpa/services/securite")
OPSN_PAYFIP_PAYMENT_URL = env.str("OPSN_PAYFIP_PAYMENT_URL",
                                  default="https://www.payfip.gouv.fr/tpa/paiementws.web")
OPSN_PAYFIP_TIMEOUT = env.float("OPSN_PAYFIP_TIMEOUT", default=15.0)
# An operation PayFiP has not settled after this long will never be (its own window is
# about 15 minutes).
OPSN_PAYFIP_VALIDITY_MINUTES = env.int("OPSN_PAYFIP_VALIDITY_MINUTES", default=20)
# The reconciliation asks PayFiP about payments still waiting after this long.
OPSN_PAYFIP_RECONCILE_AFTER_MINUTES = env.int("OPSN_PAYFIP_RECONCILE_AFTER_MINUTES", default=5)
OPSN_PAYFIP_LOCAL_URL = env.str("OPSN_PAYFIP_LOCAL_URL",
                                default=f"http://{OPSN_BASE_DOMAIN}:8000/payfip-local")
OPSN_PAYFIP_LOCAL_NOTIFY = env.bool("OPSN_PAYFIP_LOCAL_NOTIFY", default=True)

# --- Django -------------------------------------------------------------------------------
# Any host may reach the application: the routing middleware answers only the operator's
# hosts and the domains in the commune registry, and a clear 404 for the rest.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])

SHARED_APPS = [
    "django_tenants",
    "opsn.communes",
    "opsn.referentiel",
    "opsn.accounts",
    "opsn.console",
    "opsn.billing",
    "opsn.citizens",
    "opsn.jobs",
    "opsn.operations",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauth2_provider",  # the local OpenID Connect provider (idp) is built on it
    "opsn.idp",
    "opsn.payfip_local",  # the local PayFiP test provider (demo, tests), on the portal
    "opsn.public_service",  # notices, source code, open statistics, on every host
    "ninja",  # serves the API docs' Swagger UI from our own static files (no CDN)
]
# Each commune schema holds these. The list is kept short on purpose: every tenant app
# costs DDL at schema creation and migration work on every release.
TENANT_APPS = [
    "opsn.branding",
    "opsn.agents",
    "opsn.audit",
    "opsn.finance",
    "opsn.regies",
    "opsn.direct_debit",
    "opsn.commune_site",
    "opsn.regie_pages",
    "opsn.commune_api",
    "opsn.online_payments",
]
INSTALLED_APPS = SHARED_APPS + [a for a in TENANT_APPS if a not in SHARED_APPS]

TENANT_MODEL = "communes.Commune"
TENANT_DOMAIN_MODEL = "communes.Domain"
TENANT_LIMIT_SET_CALLS = True  # set search_path once per schema switch, not per cursor
# Commune-schema models go to the database of the commune entered, shared ones to default.
# django-tenants insists on finding its own router in the list; ours answers first.
DATABASE_ROUTERS = ["opsn.kernel.routers.CommuneRouter",
                    "django_tenants.routers.TenantSyncRouter"]
PUBLIC_SCHEMA_URLCONF = "opsn.urls_public"
ROOT_URLCONF = "opsn.urls_commune"

MIDDLEWARE = [
    "opsn.operations.middleware.ProbeMiddleware",  # /healthz, /readyz, /metrics: before routing
    "django.middleware.security.SecurityMiddleware",
    "opsn.operations.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "opsn.communes.routing.CommuneRoutingMiddleware",
    "opsn.operations.middleware.PrivateResponseMiddleware",  # no-store: personal data
    "opsn.operations.input_guard.InputGuardMiddleware",  # bad input is a 400, before any view
    "opsn.operations.middleware.ApiLaneMiddleware",  # the commune API: no session, no CSRF
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "opsn.accounts.middleware.SessionGuard",  # a session is valid on its own host, until it expires
    "opsn.operations.middleware.RequestContextMiddleware",  # knows the commune and the user
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "opsn.public_service.context.footer",
                "opsn.communes.routing.branding_context",
            ],
        },
    },
]

WSGI_APPLICATION = "opsn.wsgi.application"

_commune_databases = env.str("OPSN_COMMUNE_DATABASES", default="")
# The databases on the embedded server (unset DATABASE_URL, "name=embedded"): the demo's.
# Production refuses them (opsn.E011) and never starts that server.
OPSN_EMBEDDED_DATABASES = embedded_aliases(env.str("DATABASE_URL", default=""),
                                           _commune_databases)
if env.str("DATABASE_URL", default=""):
    _db = env.db("DATABASE_URL")
    # A Unix socket, written either way: postgres://user@%2Fvar%2Frun%2Fpostgresql/db or
    # postgres://user@/db?host=/var/run/postgresql (pg_dump needs it as the host).
    _db["HOST"] = unquote(str(_db.get("HOST") or "")) or _db.get("OPTIONS", {}).pop("host", "")
elif _production:
    _db = {"NAME": "", "USER": "", "PASSWORD": "", "HOST": "", "PORT": ""}
else:
    _db = embedded_database_settings(DATA_DIR)
# django-tenants' backend, each persistent connection health-checked before a request
# uses it (CONN_HEALTH_CHECKS): see decision 0009, amended; and recycled once it has entered
# OPSN_DB_MAX_SCHEMAS_PER_CONNECTION schemas (opsn.kernel.postgresql; decision 0009, issue 20).
_db["ENGINE"] = "opsn.kernel.postgresql"
# Connections that visit many schemas cache their catalogue entries for life: recycle them.
_db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
_db["CONN_HEALTH_CHECKS"] = True
# Shared by every process: the ID tokens' nonces already used (a replay must be refused
# whichever worker it reaches) and the sign-in rate limits. A table of the public schema by
# default (created by `opsn migrate_communes`); CACHE_URL=redis://… for Redis.
CACHES = {"default": env.cache_url("CACHE_URL", default="dbcache://opsn_cache")}
DATABASES = {"default": _db}
# More communes than one database holds: extra databases for commune schemas, as
# "east=postgres://…,west=postgres://…" ("name=embedded": a database on the embedded server).
# The registry stays in default; Commune.database names the alias (docs/operations.md).
DATABASES.update(commune_databases(_commune_databases, _db, DATA_DIR,
                                   start_embedded=not _production))
# Where a new commune goes when the operator does not say: an alias, or "" for the database
# that holds the fewest communes.
OPSN_NEW_COMMUNE_DATABASE = env.str("OPSN_NEW_COMMUNE_DATABASE", default="")
# A database connection that has entered this many distinct commune schemas is closed at
# the end of its request or job (a PostgreSQL backend caches every relation it opened, about
# 200 kB per commune schema visited): the next one starts with an empty cache. 0: never.
# How to choose it: docs/operations.md, « Database connections and memory ».
OPSN_DB_MAX_SCHEMAS_PER_CONNECTION = env.int("OPSN_DB_MAX_SCHEMAS_PER_CONNECTION", default=100)
# A commune being moved between databases is read-only; the move waits this long for every
# process to see it (the routing cache) before it copies anything.
# A job for a read-only commune is sent again this many seconds later.
OPSN_READ_ONLY_JOB_DELAY = env.float("OPSN_READ_ONLY_JOB_DELAY", default=60.0)
OPSN_MOVE_SETTLE_SECONDS = env.float("OPSN_MOVE_SETTLE_SECONDS",
                                     default=OPSN_ROUTING_CACHE_SECONDS + 1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Identity: OpenID Connect (docs/identity-setup.md) -------------------------------------
# "local": the deployment serves its own provider on OPSN_IDP_HOST (demo, tests);
# "keycloak": OPSN_OIDC_ISSUER is the realm's issuer (production).
OPSN_IDP = env.str("OPSN_IDP", default="local")
OPSN_IDP_HOST = env.str("OPSN_IDP_HOST", default=f"connexion.{OPSN_BASE_DOMAIN}").lower()
OPSN_OIDC_ISSUER = env.str("OPSN_OIDC_ISSUER", default=f"http://{OPSN_IDP_HOST}").rstrip("/")
OPSN_OIDC_CLIENT_ID = env.str("OPSN_OIDC_CLIENT_ID", default="opsn-platform")
OPSN_OIDC_CLIENT_SECRET = secret("OPSN_OIDC_CLIENT_SECRET") or DEMO_OIDC_CLIENT_SECRET
# acr values that prove two factors (Keycloak's acr.loa.map in infra/keycloak: "2").
OPSN_OIDC_STRONG_ACR = env.list("OPSN_OIDC_STRONG_ACR", default=["2"])
OPSN_OIDC_TIMEOUT = env.float("OPSN_OIDC_TIMEOUT", default=10.0)
# The local provider's limits ("attempts/period", counted before each check,
# opsn.operations.throttle): wrong passwords per account (the e-mail as the account lookup
# reads it), wrong second-factor codes per account (the account of the sign-in under way),
# and failed attempts per client address, high enough for a town hall's agents behind one
# address. Each locks for its period once reached, the right password or code included.
OPSN_IDP_SIGN_IN_RATE = rate_setting("OPSN_IDP_SIGN_IN_RATE",
                                     env.str("OPSN_IDP_SIGN_IN_RATE", default="5/15m"))
OPSN_IDP_CODE_RATE = rate_setting("OPSN_IDP_CODE_RATE",
                                  env.str("OPSN_IDP_CODE_RATE", default="5/15m"))
OPSN_IDP_ADDRESS_RATE = rate_setting("OPSN_IDP_ADDRESS_RATE",
                                     env.str("OPSN_IDP_ADDRESS_RATE", default="100/15m"))
# Provisioning of communes' identities (accounts.identity): local store or Keycloak.
OPSN_IDENTITY_PROVISIONING = env.str(
    "OPSN_IDENTITY_PROVISIONING",
    default="opsn.accounts.keycloak.KeycloakProvisioning" if OPSN_IDP == "keycloak"
    else "opsn.idp.provisioning.LocalProvisioning")
OPSN_KEYCLOAK_SERVER_URL = env.str("OPSN_KEYCLOAK_SERVER_URL", default="")
OPSN_KEYCLOAK_REALM = env.str("OPSN_KEYCLOAK_REALM", default="opsn")
OPSN_KEYCLOAK_ADMIN_CLIENT_ID = env.str("OPSN_KEYCLOAK_ADMIN_CLIENT_ID",
                                        default="opsn-provisioning")
OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET = secret("OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET") or ""


def _idp_signing_key() -> str:
    """The local provider's RS256 key: OPSN_IDP_SIGNING_KEY(_FILE), else a key generated
    once into the data folder (never in git) and kept there."""
    given = secret("OPSN_IDP_SIGNING_KEY")
    if given:
        return given
    path = DATA_DIR / "idp-signing-key.pem"
    if not path.exists():

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # first writer wins: concurrent processes share one key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text()


OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": _idp_signing_key() if OPSN_IDP == "local" else "",
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "PKCE_REQUIRED": True,
    "OAUTH2_VALIDATOR_CLASS": "opsn.idp.validators.Validator",
    "SCOPES": {"openid": "Identité", "email": "Adresse électronique",
               "profile": "Nom, prénom, date de naissance"},
    "DEFAULT_SCOPES": ["openid"],
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ID_TOKEN_EXPIRE_SECONDS": 300,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 300,
}
# The local provider's own warnings (`opsn check --deploy`) say nothing of a deployment that
# signs in elsewhere: it is not served then (routing), whatever its settings.
SILENCED_SYSTEM_CHECKS = [] if OPSN_IDP == "local" else [
    f"oauth2_provider.W00{n}" for n in range(1, 9)]
AUTHENTICATION_BACKENDS = [
    "opsn.accounts.oidc.Backend",  # every host of the platform
    "django.contrib.auth.backends.ModelBackend",  # the local provider's own accounts only
]
OIDC_RP_CLIENT_ID = OPSN_OIDC_CLIENT_ID
OIDC_RP_CLIENT_SECRET = OPSN_OIDC_CLIENT_SECRET
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid email profile"
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of RP-initiated logout
OIDC_AUTHENTICATION_CALLBACK_URL = "accounts:oidc-callback"
OIDC_OP_LOGOUT_URL_METHOD = "opsn.accounts.oidc.provider_logout_url"  # RP-initiated logout
OIDC_TIMEOUT = OPSN_OIDC_TIMEOUT
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"

# French only (decision 0014): every page, message, document and e-mail is written in French;
# no English is announced that the platform does not speak.
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français")]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Paris")
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = True  # 250 351 habitants, in French

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "static")))
# Static files are served by WhiteNoise. Without `opsn collectstatic` (the demo, the tests)
# it finds them in the apps directly.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# EMAIL_URL (or EMAIL_URL_FILE), a secret: smtp+tls://user:password@host:587 gives the SMTP
# backend, host, port, account and TLS at once. Unset: EMAIL_BACKEND, by default the console
# (the demo prints its messages; production refuses it).
_email_url = secret("EMAIL_URL") or ""
_email = environ.Env.email_url_config(_email_url) if _email_url else {}
EMAIL_BACKEND = _email.get("EMAIL_BACKEND") or env.str(
    "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = int(_email.get("EMAIL_PORT") or 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=OPSN_OPERATOR["email"])

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Absolute links that leave a page (e-mails, a receipt's verification URL and QR code,
# PayFiP's return and notification URLs) are built from these (opsn.kernel.urls), never
# from a request's Host header. 0: the scheme's own port; the demo sets the port it serves.
OPSN_PUBLIC_SCHEME = env.str("OPSN_PUBLIC_SCHEME",
                             default="https" if SESSION_COOKIE_SECURE else "http").lower()
if OPSN_PUBLIC_SCHEME not in ("http", "https"):
    raise environ.ImproperlyConfigured("OPSN_PUBLIC_SCHEME: http or https")
OPSN_PUBLIC_PORT = env.int("OPSN_PUBLIC_PORT", default=0)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Behind TLS (production): HSTS for a year, and trust the proxy's scheme header.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The proxies in front of the application (addresses or CIDR networks, e.g. the ingress
# controller's pods): X-Forwarded-For is read only from them (opsn.kernel.addresses).
# Empty: the client's address is REMOTE_ADDR. Checked here: a wrong entry stops the start.
OPSN_TRUSTED_PROXIES = [str(net) for net in trusted_networks(
    env.list("OPSN_TRUSTED_PROXIES", default=[]))]

# --- Operations -----------------------------------------------------------------------
SENTRY_DSN = secret("SENTRY_DSN") or ""
OPSN_RELEASE = env.str("OPSN_RELEASE", default="opsn@0.1.0")
OPSN_METRICS_TOKEN = secret("OPSN_METRICS_TOKEN") or ""

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "opsn.operations.logs.ContextFilter"}},
    "formatters": {"json": {"()": "opsn.operations.logs.Formatter"},
                   "text": {"()": "opsn.operations.logs.TextFormatter"}},
    # To standard error. auto: French lines on a terminal, JSON otherwise (opsn.operations.logs).
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"],
                             "formatter": log_format(env.str("LOG_FORMAT", default="auto"))}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
    "loggers": {"opsn": {"level": env.str("LOG_LEVEL", default="INFO")}},
}
