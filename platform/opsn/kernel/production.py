"""Production refuses to start on the demo's values.

The one list of them: the settings take their demo defaults from here
(``opsn.settings``), and ``demo_values`` — a system check of ``opsn check --deploy`` —
refuses each of them, naming its variable, when ``OPSN_ENVIRONMENT=production``. The
entry points (``opsn serve``, ``worker``, ``scheduler``, ``migrate_communes``, and
``opsn.wsgi`` for any other WSGI server) run the same check before they start
(``refuse_demo_values``). In development and in the tests nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand
from stdnum.fr import tva

PRODUCTION = "production"
# The tag of the check: the entry points run it alone (``opsn serve`` must not import the
# middlewares, hence the metrics, before it has set up their folder).
TAG = "opsn_production"

# --- The demo's values (the settings' defaults) ---------------------------------------------
DEVELOPMENT_SECRET_KEY = "insecure-development-key-set-SECRET_KEY-in-production"  # noqa: S105
DEMO_OIDC_CLIENT_SECRET = "local-provider-demo-secret"  # noqa: S105
# The operator's identity in the demo: on the pages, in e-mails, and as the seller on the
# invoices sent to Chorus Pro (variable → value).
DEMO_OPERATOR = {
    "OPSN_OPERATOR_NAME": "Syndicat intercommunal des technologies",
    "OPSN_OPERATOR_EMAIL": "support@opsn.example.fr",
    "OPSN_OPERATOR_PHONE": "04 00 00 00 00",
    "OPSN_OPERATOR_SIREN": "256900994",
    "OPSN_OPERATOR_ADDRESS": "1 place de la Mairie",
    "OPSN_OPERATOR_POSTCODE": "69200",
    "OPSN_OPERATOR_CITY": "Vénissieux",
    "OPSN_OPERATOR_IBAN": "FR76 3000 1000 6400 0000 0000 000",
    # The seller's VAT identifier (EN 16931 BT-31): without it Chorus Pro rejects every
    # titre (BR-E-02; BR-S-02 when a service carries VAT). The demo SIREN's number.
    "OPSN_OPERATOR_VAT_NUMBER": "FR67256900994",
}
DEMO_BASE_DOMAIN = "localhost"
# E-mail backends that send nothing: they print, keep or drop the messages.
NON_SENDING_EMAIL_BACKENDS = frozenset({
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
})
# Caches each process keeps to itself: a nonce seen by one worker would be new to another.
PER_PROCESS_CACHES = frozenset({
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
})
LOCAL_PROVISIONING = "opsn.idp.provisioning.LocalProvisioning"
KEYCLOAK_PROVISIONING = "opsn.accounts.keycloak.KeycloakProvisioning"


def is_production() -> bool:
    return settings.OPSN_ENVIRONMENT == PRODUCTION


@dataclass(frozen=True)
class Rule:
    """One demo value production refuses: its check id, the variable to set, the test
    (true when the demo value is there) and what to do, in French."""

    id: str
    variable: str
    found: Callable[[Any], bool]
    message: str
    hint: str


def _https(url: str) -> bool:
    return urlsplit(url or "").scheme == "https"


def _keycloak(config: Any) -> bool:
    """Provisioning goes to Keycloak, or will once OPSN_IDP=keycloak (the only provider
    production takes): its settings are asked for at once, not after a second try."""
    return config.OPSN_IDENTITY_PROVISIONING in (KEYCLOAK_PROVISIONING, LOCAL_PROVISIONING)


def _operator(variable: str) -> Callable[[Any], bool]:
    key = variable.removeprefix("OPSN_OPERATOR_").lower()
    return lambda s: (s.OPSN_OPERATOR.get(key) or "") in ("", DEMO_OPERATOR[variable])


# The address is the demo's when its three parts are (an operator may well be in Vénissieux).
_ADDRESS = ("OPSN_OPERATOR_ADDRESS", "OPSN_OPERATOR_POSTCODE", "OPSN_OPERATOR_CITY")


def _demo_address(config: Any) -> bool:
    return all(_operator(variable)(config) for variable in _ADDRESS)


def vat_number_problem(vat_number: str, siren: str) -> str | None:
    """Why ``vat_number`` cannot be the seller's VAT identifier of the operator whose SIREN
    is ``siren``, or None when it can."""
    if not vat_number:
        return "Le numéro de TVA intracommunautaire manque."
    if not tva.is_valid(vat_number):
        return f"« {vat_number} » n'est pas un numéro de TVA intracommunautaire français valide."
    if siren and tva.to_siren(vat_number) != siren:
        return (f"Le numéro de TVA {vat_number} n'est pas celui du SIREN de l'opérateur "
                f"({siren}).")
    return None


def _siren_given(config: Any) -> str:
    """The operator's SIREN, or "" while it is missing or the demo's (opsn.E017 says so)."""
    return "" if _operator("OPSN_OPERATOR_SIREN")(config) else config.OPSN_OPERATOR["siren"]


RULES: tuple[Rule, ...] = (
    Rule("opsn.E001", "SECRET_KEY",
         lambda s: not s.SECRET_KEY or s.SECRET_KEY == DEVELOPMENT_SECRET_KEY,
         "SECRET_KEY manque : la clé de développement signerait les sessions.",
         "Donnez une clé aléatoire d'au moins 50 caractères (SECRET_KEY ou SECRET_KEY_FILE)."),
    Rule("opsn.E002", "DEBUG", lambda s: bool(s.DEBUG),
         "DEBUG est activé : les pages d'erreur montreraient le code et les réglages.",
         "Retirez DEBUG ou mettez DEBUG=false."),
    Rule("opsn.E003", "OPSN_IDP", lambda s: s.OPSN_IDP == "local",
         "OPSN_IDP vaut « local » : le fournisseur d'identité de démonstration servirait "
         "les connexions.",
         "Mettez OPSN_IDP=keycloak et OPSN_OIDC_ISSUER (docs/identity-setup.md)."),
    Rule("opsn.E004", "OPSN_OIDC_CLIENT_SECRET",
         lambda s: s.OPSN_OIDC_CLIENT_SECRET in ("", DEMO_OIDC_CLIENT_SECRET),
         "OPSN_OIDC_CLIENT_SECRET manque : le secret de démonstration serait utilisé.",
         "Donnez le secret du client chez le fournisseur d'identité "
         "(OPSN_OIDC_CLIENT_SECRET ou OPSN_OIDC_CLIENT_SECRET_FILE)."),
    Rule("opsn.E005", "OPSN_OIDC_ISSUER", lambda s: not _https(s.OPSN_OIDC_ISSUER),
         "OPSN_OIDC_ISSUER n'est pas une adresse https.",
         "Donnez l'émetteur du royaume Keycloak, par exemple "
         "https://sso.example.fr/realms/opsn."),
    Rule("opsn.E006", "OPSN_IDENTITY_PROVISIONING",
         lambda s: s.OPSN_IDP != "local" and s.OPSN_IDENTITY_PROVISIONING == LOCAL_PROVISIONING,
         "OPSN_IDENTITY_PROVISIONING nomme le fournisseur d'identité de démonstration.",
         f"Retirez OPSN_IDENTITY_PROVISIONING (avec OPSN_IDP=keycloak : {KEYCLOAK_PROVISIONING})."),
    Rule("opsn.E007", "OPSN_KEYCLOAK_SERVER_URL",
         lambda s: _keycloak(s) and not _https(s.OPSN_KEYCLOAK_SERVER_URL),
         "OPSN_KEYCLOAK_SERVER_URL manque ou n'est pas une adresse https : les communes ne "
         "pourraient pas être créées dans Keycloak.",
         "Donnez l'adresse du serveur Keycloak, par exemple https://sso.example.fr."),
    Rule("opsn.E008", "OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET",
         lambda s: _keycloak(s) and not s.OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET,
         "OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET manque : les communes ne pourraient pas être "
         "créées dans Keycloak.",
         "Donnez le secret du client opsn-provisioning (OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET ou "
         "OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET_FILE)."),
    Rule("opsn.E009", "OPSN_PAYFIP", lambda s: s.OPSN_PAYFIP != "payfip",
         "OPSN_PAYFIP ne vaut pas « payfip » : le prestataire de paiement de test "
         "encaisserait des paiements fictifs.",
         "Retirez OPSN_PAYFIP ou mettez OPSN_PAYFIP=payfip (docs/payfip.md)."),
    Rule("opsn.E010", "OPSN_METRICS_TOKEN", lambda s: not s.OPSN_METRICS_TOKEN,
         "OPSN_METRICS_TOKEN manque : /metrics serait lisible sans jeton.",
         "Donnez un jeton aléatoire (OPSN_METRICS_TOKEN ou OPSN_METRICS_TOKEN_FILE) ; "
         "Prometheus l'envoie en « Authorization: Bearer »."),
    Rule("opsn.E011", "DATABASE_URL", lambda s: bool(s.OPSN_EMBEDDED_DATABASES),
         "DATABASE_URL manque (ou OPSN_COMMUNE_DATABASES nomme « embedded ») : les données "
         "iraient dans la base PostgreSQL embarquée de la démonstration.",
         "Donnez postgres://utilisateur:mot-de-passe@hôte:5432/base."),
    Rule("opsn.E012", "OPSN_BROKER_URL",
         lambda s: not s.OPSN_BROKER_URL or s.OPSN_JOBS_MODE != "broker",
         "OPSN_BROKER_URL manque (ou OPSN_JOBS_MODE n'est pas « broker ») : les tâches "
         "tourneraient dans le processus web.",
         "Donnez amqp://… (RabbitMQ) ou redis://… et lancez des processus « opsn worker »."),
    Rule("opsn.E013", "EMAIL_URL",
         lambda s: s.EMAIL_BACKEND in NON_SENDING_EMAIL_BACKENDS,
         "EMAIL_URL manque (ou EMAIL_BACKEND n'envoie rien) : les courriels (quittances, "
         "codes) seraient écrits dans le journal au lieu d'être envoyés.",
         "Donnez le serveur d'envoi, par exemple "
         "smtp+tls://utilisateur:mot-de-passe@smtp.example.fr:587 (ou EMAIL_URL_FILE)."),
    Rule("opsn.E014", "CACHE_URL",
         lambda s: s.CACHES["default"]["BACKEND"] in PER_PROCESS_CACHES,
         "CACHE_URL nomme un cache propre à chaque processus : un jeton rejoué ou une "
         "tentative de connexion ne serait pas vu par les autres.",
         "Retirez CACHE_URL (une table de la base) ou donnez redis://…"),
    Rule("opsn.E015", "OPSN_BASE_DOMAIN",
         lambda s: s.OPSN_BASE_DOMAIN == DEMO_BASE_DOMAIN
         or s.OPSN_BASE_DOMAIN.endswith(f".{DEMO_BASE_DOMAIN}"),
         "OPSN_BASE_DOMAIN vaut « localhost » : les communes n'auraient pas d'adresse.",
         "Donnez le domaine de l'opérateur, par exemple opsn.example.fr."),
    Rule("opsn.E016", "SECURE_COOKIES", lambda s: not s.SESSION_COOKIE_SECURE,
         "SECURE_COOKIES n'est pas activé : les cookies de session partiraient aussi en http.",
         "Mettez SECURE_COOKIES=true (et BEHIND_TLS_PROXY=true derrière le proxy TLS)."),
    *(Rule("opsn.E017", variable, _operator(variable),
           f"{variable} manque : la valeur de démonstration « {value} » figurerait sur les "
           "pages, les courriels et les factures.",
           f"Donnez la valeur de l'opérateur ({variable}).")
      for variable, value in DEMO_OPERATOR.items() if variable not in _ADDRESS),
    Rule("opsn.E017", "OPSN_OPERATOR_ADDRESS", _demo_address,
         "OPSN_OPERATOR_ADDRESS, OPSN_OPERATOR_POSTCODE et OPSN_OPERATOR_CITY manquent : "
         "l'adresse de démonstration figurerait sur les factures.",
         "Donnez l'adresse de l'opérateur (OPSN_OPERATOR_ADDRESS, OPSN_OPERATOR_POSTCODE, "
         "OPSN_OPERATOR_CITY)."),
    Rule("opsn.E018", "OPSN_OPERATOR_VAT_NUMBER",
         lambda s: not _operator("OPSN_OPERATOR_VAT_NUMBER")(s)
         and vat_number_problem(s.OPSN_OPERATOR["vat_number"], _siren_given(s)) is not None,
         "OPSN_OPERATOR_VAT_NUMBER est invalide ou n'est pas celui de OPSN_OPERATOR_SIREN : "
         "Chorus Pro rejetterait les titres.",
         "Donnez le numéro de TVA intracommunautaire de l'opérateur, FR + clé + SIREN "
         "(par exemple FR40303265045)."),
)


def demo_values_found(config: Any = None) -> Iterator[Rule]:
    """The rules broken by ``config`` (the settings by default)."""
    config = config or settings
    for rule in RULES:
        if rule.found(config):
            yield rule


@checks.register(TAG, checks.Tags.security, deploy=True)
def demo_values(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``opsn check --deploy``: every demo value still in place, all at once."""
    if not is_production():
        return [checks.Info(
            f"OPSN_ENVIRONMENT vaut « {settings.OPSN_ENVIRONMENT} » : les valeurs de "
            "démonstration ne sont refusées qu'avec OPSN_ENVIRONMENT=production.",
            id="opsn.I001")]
    return [checks.Error(rule.message, hint=rule.hint, id=rule.id)
            for rule in demo_values_found()]


def refuse_demo_values(command: BaseCommand) -> None:
    """An entry point's first step: in production, stop with every demo value found
    (``SystemCheckError``, exit status 1), before anything starts."""
    if is_production():
        command.check(tags=[TAG], include_deployment_checks=True)


def refuse_demo_values_to_serve() -> None:
    """The same for a WSGI server loading the application (``opsn.wsgi``)."""
    if not is_production():
        return
    found = list(demo_values_found())
    if found:
        lines = "\n".join(f"({r.id}) {r.message} {r.hint}" for r in found)
        raise ImproperlyConfigured(f"Démarrage refusé en production :\n{lines}")
