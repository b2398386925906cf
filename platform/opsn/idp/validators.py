"""django-oauth-toolkit's validator, with the platform's claims and redirect rule."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator

from opsn.communes.models import Domain
from opsn.idp.models import Identity
from opsn.idp.store import groups_of

CALLBACK_PATH = "/compte/oidc/callback/"
AMR_CLAIM = "_opsn_amr"  # kept with the authorization code, from the sign-in session


def platform_origin() -> tuple[str, int]:
    """The scheme and port every host of the platform is served on: the provider's own
    (``OPSN_OIDC_ISSUER``), since the local provider is served by the same deployment, on
    the same port, as the console and the communes' sites (``opsn demo`` adds its port to
    both)."""
    issuer = urlsplit(settings.OPSN_OIDC_ISSUER)
    return issuer.scheme, _port(issuer)


def _port(parts) -> int:
    try:
        explicit = parts.port
    except ValueError:
        return -1  # not a port at all
    return explicit if explicit is not None else {"http": 80, "https": 443}.get(parts.scheme, -1)


def platform_uri_allowed(uri: str, *, path: str | None) -> bool:
    """A URI of the platform, matched exactly: the platform's scheme and port
    (``platform_origin``), an operator host or a domain of the commune registry, and (for
    the callback) the callback's path. Keycloak's client says the same with its list of
    redirect URIs."""

    parts = urlsplit(uri)
    if (parts.scheme, _port(parts)) != platform_origin() or not parts.hostname:
        return False
    if parts.username is not None or parts.password is not None:
        return False
    if parts.query or parts.fragment or (path is not None and parts.path != path):
        return False
    host = parts.hostname.lower()
    return host in settings.OPSN_OPERATOR_HOSTS or Domain.objects.filter(domain=host).exists()


class Validator(OAuth2Validator):
    oidc_claim_scope = {
        "sub": "openid", "groups": "openid", "acr": "openid", "amr": "openid",
        "email": "email", "email_verified": "email",
        "given_name": "profile", "family_name": "profile", "birthdate": "profile",
    }

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        return platform_uri_allowed(redirect_uri, path=CALLBACK_PATH)

    def _create_authorization_code(self, request, code, expires=None):
        # How the person signed in (password, second factor) travels with the code, so
        # that the ID token issued at the token endpoint says it (acr / amr).
        amr = getattr(request, "opsn_amr", None) or ["pwd"]
        request.claims = {**(request.claims or {}), AMR_CLAIM: amr}
        return super()._create_authorization_code(request, code, expires)

    def get_additional_claims(self, request):
        user = request.user
        identity, _ = Identity.objects.get_or_create(user=user)
        claims = {
            "sub": str(identity.sub),
            "email": user.email,
            "email_verified": True,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "groups": groups_of(user),
        }
        if identity.birthdate:
            claims["birthdate"] = identity.birthdate.isoformat()
        stored = request.claims if isinstance(request.claims, dict) else {}
        if isinstance(request.claims, str):
            stored = json.loads(request.claims or "{}")
        amr = stored.get(AMR_CLAIM)
        if amr:
            claims["amr"] = amr
            claims["acr"] = "2" if "otp" in amr else "1"
        return claims
