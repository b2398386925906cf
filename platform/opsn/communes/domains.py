"""Host names: the commune's own ``<slug>.<base domain>`` and custom domains."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.text import slugify

from opsn.communes.errors import InvalidDomain, ReservedDomain

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Labels a commune slug may not take: they name parts of the operator's own site.
RESERVED_LABELS = frozenset({"console", "www", "api", "static", "media", "admin", "mail",
                             "auth", "login", "sso", "metrics", "status", "connexion"})


def reserved_hosts() -> dict[str, str]:
    """The hosts the platform serves (or signs in on) itself, each with what it is there:
    never a commune's domain. The operator's hosts (console, portal, OPSN_OPERATOR_HOSTS),
    the identity provider's (the local one's host, the issuer's, Keycloak's), the local
    PayFiP test provider's, and the reserved labels under the base domain."""

    base = settings.OPSN_BASE_DOMAIN
    hosts = {f"{label}.{base}": "la plateforme" for label in RESERVED_LABELS}
    for url in (settings.OPSN_OIDC_ISSUER, settings.OPSN_KEYCLOAK_SERVER_URL):
        if host := urlsplit(url).hostname:
            hosts[host] = "la plateforme (fournisseur d'identité)"
    hosts[settings.OPSN_IDP_HOST] = "la plateforme (fournisseur d'identité)"
    if host := urlsplit(settings.OPSN_PAYFIP_LOCAL_URL).hostname:
        hosts[host] = "la plateforme (paiement en ligne de test)"
    hosts.update(dict.fromkeys(settings.OPSN_OPERATOR_HOSTS, "l'opérateur"))
    hosts[base] = "l'opérateur (portail)"
    hosts[settings.OPSN_CONSOLE_HOST] = "l'opérateur (console)"
    return hosts


def normalise_domain(value: str) -> str:
    """Lower-case, strip a trailing dot; refuse what is not a valid host name."""
    domain = (value or "").strip().lower().rstrip(".")
    if not domain:
        raise InvalidDomain("Le nom de domaine est vide.", field="domain")
    if "://" in domain or "/" in domain or ":" in domain:
        raise InvalidDomain(
            f"« {value} » n'est pas un nom de domaine : donnez seulement l'hôte, "
            "sans http://, sans port ni chemin (exemple : paiements.ville.fr).",
            field="domain",
        )
    try:
        domain.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidDomain(
            f"« {value} » contient des caractères accentués : donnez sa forme ASCII "
            "(punycode, xn--…).", field="domain") from None
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(_LABEL.match(lbl) for lbl in labels):
        raise InvalidDomain(
            f"« {value} » n'est pas un nom de domaine valide (lettres, chiffres et tirets "
            "séparés par des points, au moins deux parties).", field="domain")
    if labels[-1].isdigit():
        raise InvalidDomain(f"« {value} » est une adresse IP : donnez un nom de domaine "
                            "(exemple : paiements.ville.fr).", field="domain")
    if what := reserved_hosts().get(domain):
        raise ReservedDomain(f"« {domain} » est réservé à {what} : il ne peut pas être le "
                             "domaine d'une commune.", field="domain")
    return domain


def commune_subdomain(slug: str) -> str:
    return f"{slug}.{settings.OPSN_BASE_DOMAIN}"


def slug_candidates(name: str, departement_code: str, insee_code: str) -> list[str]:
    base = slugify(name)[:60] or insee_code.lower()
    if base in RESERVED_LABELS:
        base = f"{base}-{departement_code.lower()}"
    return [base, f"{base}-{departement_code.lower()}", f"{base}-{insee_code.lower()}"]
