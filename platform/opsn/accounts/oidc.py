"""The platform signs in through OpenID Connect (mozilla-django-oidc, subclassed).

Every host of the platform runs the authorization code flow itself (state, nonce, PKCE
S256), with its own callback, so a session is bound to the host it was made on; the
provider's own session makes the next host silent. The library runs the flow; what is
ours sits at its hooks: the endpoints come from the provider's discovery document
(``get_settings``), and ID tokens are checked, not trusted: RS256 signature against the
provider's JWKS, fetched again on an unknown ``kid`` (``retrieve_matching_jwk``), issuer,
audience, expiry, the authorized party (``azp``) of a token for several audiences
(``get_payload_data``; a token that is not one at all is a refusal too), the nonce of this
browser's request and a nonce never accepted before (``verify_token``). Agents and the
operator's staff must have signed in with two factors (``acr``/``amr``, ``verify_claims``).
Each refusal shows a French page and writes one log line.

The provider is reached over HTTP in production (Keycloak). With the local provider
(``OPSN_IDP=local``) the same deployment serves it, and the server-to-server calls
(discovery, token, JWKS, userinfo) are handed to the WSGI application in-process by a
``requests`` transport adapter: the same messages, signatures and checks, without a
second server or name resolution of ``connexion.localhost``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from urllib.parse import urlencode, urlsplit

import jwt
import requests
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.test import RequestFactory
from django.urls import get_urlconf, set_urlconf
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    OIDCLogoutView,
)
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from opsn.accounts.models import SignOut
from opsn.agents.models import AgentRole, Role
from opsn.kernel import tenancy

logger = logging.getLogger("opsn.accounts")

STAFF_GROUP = "/operator/staff"
COMMUNE_PREFIX = "/communes/"
SESSION_HOST = "opsn_signed_in_host"
SESSION_EXPIRES = "opsn_session_expires_at"
SESSION_SIGNED_IN = "opsn_signed_in_at"


class SignInRefused(Exception):
    """A sign-in the platform refuses: ``code`` for the log, ``message`` for people."""

    def __init__(self, code: str, message: str, detail: str = ""):
        super().__init__(code)
        self.code, self.message, self.detail = code, message, detail


RETRY = " Reconnectez-vous ; si le problème persiste, contactez le support de l'opérateur."
MESSAGES = {
    "bad_signature": "La réponse du service de connexion n'est pas authentique (signature "
                     "invalide)." + RETRY,
    "wrong_audience": "La réponse du service de connexion était destinée à un autre site."
                      + RETRY,
    "wrong_issuer": "La réponse ne vient pas du service de connexion de la plateforme." + RETRY,
    "expired_token": "La réponse du service de connexion a expiré." + RETRY,
    "malformed_token": "La réponse du service de connexion est illisible." + RETRY,
    "nonce_mismatch": "La réponse du service de connexion ne correspond pas à votre demande."
                      + RETRY,
    "nonce_reused": "Cette réponse de connexion a déjà été utilisée." + RETRY,
    "state_unknown": "Cette connexion a expiré ou a déjà été utilisée." + RETRY,
    "provider_error": "Le service de connexion a refusé la demande." + RETRY,
    "provider_unreachable": "Le service de connexion ne répond pas. Réessayez dans quelques "
                            "minutes.",
    "weak_authentication": "Les agents des communes et l'équipe de l'opérateur doivent se "
                           "connecter avec la double authentification (mot de passe et code "
                           "à usage unique). Activez-la sur votre compte puis reconnectez-vous.",
    "incomplete_claims": "Le service de connexion n'a pas transmis votre identité complète."
                         + RETRY,
}


def refuse(code: str, detail: str = "") -> SignInRefused:
    return SignInRefused(code, MESSAGES[code], detail)


# --- Talking to the provider ------------------------------------------------------------

class InProcessAdapter(BaseAdapter):
    """A ``requests`` transport that hands the request to this deployment's own WSGI
    application (the local provider), through Django's request handler."""

    _handler = None

    @classmethod
    def handler(cls):
        # Django's request handler without the WSGI server's request_started/finished
        # signals: the caller's request (and its database connection) is still running.
        if cls._handler is None:

            handler = BaseHandler()
            handler.load_middleware()
            cls._handler = handler
        return cls._handler

    def send(self, request, stream=False, timeout=None, verify=True, cert=None,
             proxies=None):
        parts = urlsplit(request.url)
        commune = tenancy.current_commune()
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length", "content-type")}
        http_request = RequestFactory(HTTP_HOST=parts.netloc).generic(
            request.method, parts.path + (f"?{parts.query}" if parts.query else ""),
            data=body, content_type=request.headers.get("Content-Type", ""),
            secure=parts.scheme == "https", headers=headers)
        urlconf = get_urlconf()
        try:
            answer = self.handler().get_response(http_request)
        finally:
            set_urlconf(urlconf)
            # The provider runs in the public schema: come back to the caller's commune.
            tenancy.enter(commune)
        response = requests.Response()
        response.status_code = answer.status_code
        response.reason = answer.reason_phrase
        response.headers = CaseInsensitiveDict(dict(answer.headers.items()))
        response._content = answer.content
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def http() -> requests.Session:
    session = requests.Session()
    if settings.OPSN_IDP == "local":
        origin = urlsplit(settings.OPSN_OIDC_ISSUER)
        session.mount(f"{origin.scheme}://{origin.netloc}/", InProcessAdapter())
    return session


_cache_lock = threading.Lock()
_documents: dict[str, tuple[float, dict]] = {}
DOCUMENT_SECONDS = 300


def _fetch(url: str, *, fresh: bool = False) -> dict:
    now = time.monotonic()
    hit = _documents.get(url)
    if hit and hit[0] > now and not fresh:
        return hit[1]
    try:
        response = http().get(url, timeout=settings.OPSN_OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        logger.error("identity provider unreachable at %s: %s", url, exc)
        raise refuse("provider_unreachable", str(exc)) from exc
    with _cache_lock:
        _documents[url] = (now + DOCUMENT_SECONDS, document)
    return document


def forget_provider() -> None:
    with _cache_lock:
        _documents.clear()


def provider() -> dict:
    """The provider's discovery document (cached). Its issuer must be the configured one."""
    issuer = settings.OPSN_OIDC_ISSUER
    document = _fetch(f"{issuer}/.well-known/openid-configuration")
    if document.get("issuer", "").rstrip("/") != issuer:
        logger.error("discovery document of %s names issuer %r", issuer, document.get("issuer"))
        raise refuse("wrong_issuer", "discovery")
    return document


DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def oidc_setting(attr: str, *default):
    """The library's settings hook (``get_settings``): the provider's endpoints come from
    its discovery document, the rest from Django's settings (``OIDC_*``)."""
    if attr in DISCOVERED:
        return provider().get(DISCOVERED[attr])
    return import_from_settings(attr, *default)


# --- The library's hooks: checking the ID token and making the user ---------------------

def is_strong(claims: dict) -> bool:
    return (str(claims.get("acr", "")) in settings.OPSN_OIDC_STRONG_ACR
            or bool({"otp", "mfa", "hwk"} & set(claims.get("amr") or [])))


def groups_in(claims: dict) -> list[str]:
    return [str(g) for g in claims.get("groups") or []]


def needs_two_factors(groups: list[str]) -> bool:
    return any(g == STAFF_GROUP or g.startswith(COMMUNE_PREFIX) for g in groups)


def commune_roles_in(groups: list[str], insee_code: str) -> set[str]:
    prefix = f"{COMMUNE_PREFIX}{insee_code}/"
    return {g[len(prefix):] for g in groups if g.startswith(prefix)} & set(Role.values)


def sync_commune_roles(account: str, roles: set[str]) -> None:
    """The current commune's roles of ``account`` become those of the token."""

    held = set(AgentRole.objects.filter(account=account).values_list("role", flat=True))
    AgentRole.objects.filter(account=account, role__in=held - roles).delete()
    for role in roles - held:
        AgentRole.objects.create(account=account, role=role, granted_by="fournisseur d'identité")
    if held != roles:
        logger.info("roles of %s synchronised from the identity provider: %s",
                    account, ",".join(sorted(roles)) or "none")


class Backend(OIDCAuthenticationBackend):
    """The library's code flow (token request with the PKCE verifier, ID token check,
    userinfo, user lookup), with our answers at its hooks. Users are keyed by ``sub``
    (the Django username), never by e-mail alone."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        # Django makes a backend for every request with a session (``get_user``): the
        # library's settings, whose endpoints need discovery, are read at a sign-in only.
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        if request is None or "code" not in request.GET:
            return None  # not our callback (the local provider's own sign-in form)
        super().__init__()
        return super().authenticate(request, **kwargs)

    # The provider is reached through ``http()`` (in-process with the local provider).

    def get_token(self, payload):
        # client_secret_basic: the client's credentials go in the Authorization header.
        credentials = (payload.pop("client_id"), payload.pop("client_secret"))
        try:
            response = http().post(self.OIDC_OP_TOKEN_ENDPOINT, data=payload,
                                   auth=credentials, timeout=settings.OPSN_OIDC_TIMEOUT)
        except requests.RequestException as exc:
            logger.error("identity provider's token endpoint unreachable: %s", exc)
            raise refuse("provider_unreachable", str(exc)) from exc
        if response.status_code != 200:
            raise refuse("provider_error", f"token endpoint {response.status_code}: "
                                           f"{response.text[:200]}")
        try:
            answer = response.json()
        except ValueError as exc:
            raise refuse("provider_error", f"token endpoint: not JSON: {exc}") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("id_token"), str):
            raise refuse("malformed_token", "no ID token in the token endpoint's answer")
        return answer

    def retrieve_matching_jwk(self, token):
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:  # not a JWS at all (DecodeError…): a refusal, not a 500
            raise refuse("malformed_token", str(exc)) from exc
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise refuse("bad_signature", f"alg {header.get('alg')!r}")
        for fresh in (False, True):  # the provider may have rotated its keys
            for jwk in _fetch(self.OIDC_OP_JWKS_ENDPOINT, fresh=fresh).get("keys", []):
                if jwk.get("kid") == header.get("kid") and jwk.get("kty") == "RSA":
                    try:
                        return jwt.PyJWK(jwk, algorithm=self.OIDC_RP_SIGN_ALGO)
                    except jwt.PyJWTError as exc:
                        raise refuse("provider_error", f"unusable key: {exc}") from exc
        raise refuse("bad_signature", f"unknown kid {header.get('kid')!r}")

    def get_payload_data(self, token, key):
        # The library checks the signature only: the issuer, audience and expiry too, and
        # the authorized party (``azp``) of a token meant for several audiences.
        return self.authorized_party(self.decoded(token, key))

    def authorized_party(self, claims: dict) -> dict:
        """OpenID Connect Core 3.1.3.7: a token for several audiences must name us as its
        authorized party (``azp``); a token naming another party is not ours either."""
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != self.OIDC_RP_CLIENT_ID:
            raise refuse("wrong_audience", f"aud {audiences!r}, azp {azp!r}")
        return claims

    def decoded(self, token, key) -> dict:
        try:
            return jwt.decode(token, key, algorithms=[self.OIDC_RP_SIGN_ALGO],
                              audience=self.OIDC_RP_CLIENT_ID,
                              issuer=settings.OPSN_OIDC_ISSUER,
                              options={"require": ["exp", "iat", "sub", "aud", "iss"]},
                              leeway=30)
        except jwt.InvalidSignatureError as exc:
            raise refuse("bad_signature", str(exc)) from exc
        except jwt.InvalidAudienceError as exc:
            raise refuse("wrong_audience", str(exc)) from exc
        except jwt.InvalidIssuerError as exc:
            raise refuse("wrong_issuer", str(exc)) from exc
        except jwt.ExpiredSignatureError as exc:
            raise refuse("expired_token", str(exc)) from exc
        except jwt.DecodeError as exc:
            raise refuse("malformed_token", str(exc)) from exc
        except jwt.InvalidTokenError as exc:
            raise refuse("bad_signature", str(exc)) from exc

    def verify_token(self, token, **kwargs):
        # The library's steps, with our nonce rules: first a nonce never accepted before
        # (a replayed token says so), then this browser's request's (in constant time).
        claims = self.get_payload_data(token, self.retrieve_matching_jwk(token))
        nonce = kwargs.get("nonce")
        token_nonce = str(claims.get("nonce") or "")
        seen = "oidc-nonce:" + hashlib.sha256(token_nonce.encode()).hexdigest()
        if token_nonce and cache.get(seen):
            raise refuse("nonce_reused", f"sub {claims.get('sub')}")
        if not nonce or not hmac.compare_digest(token_nonce, nonce):
            raise refuse("nonce_mismatch", f"sub {claims.get('sub')}")
        # Never accept this nonce again while a token carrying it could be valid.
        cache.set(seen, True, timeout=max(60, int(claims["exp"] - time.time()) + 60))
        return claims

    def get_userinfo(self, access_token, id_token, payload):
        # The ID token's claims, completed by the userinfo endpoint's (same ``sub``).
        userinfo = {}
        if self.OIDC_OP_USER_ENDPOINT and access_token:
            answer = http().get(self.OIDC_OP_USER_ENDPOINT, timeout=settings.OPSN_OIDC_TIMEOUT,
                                headers={"Authorization": f"Bearer {access_token}"})
            if answer.status_code == 200:
                userinfo = answer.json()
                if userinfo.get("sub") != payload["sub"]:
                    raise refuse("incomplete_claims", "userinfo sub differs")
        return {**userinfo, **payload}

    def verify_claims(self, claims):
        email = str(claims.get("email") or "").strip().lower()
        if not email:
            raise refuse("incomplete_claims", f"no e-mail for sub {claims['sub']}")
        if needs_two_factors(groups_in(claims)) and not is_strong(claims):
            raise refuse("weak_authentication",
                         f"{email} acr={claims.get('acr')!r} amr={claims.get('amr')!r}")
        return True

    def get_username(self, claims):
        return str(claims["sub"])

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(username=self.get_username(claims))

    def create_user(self, claims):
        # The library's user has no usable password; never reset it (the sessions on the
        # other hosts are bound to it).
        return self.update_user(super().create_user(claims), claims)

    def update_user(self, user, claims):
        email = str(claims["email"]).strip().lower()
        groups = groups_in(claims)
        user.email = email
        user.first_name = str(claims.get("given_name") or "")[:150]
        user.last_name = str(claims.get("family_name") or "")[:150]
        user.is_staff = STAFF_GROUP in groups
        user.save()
        commune = getattr(self.request, "commune", None)
        if commune is not None:
            sync_commune_roles(email, commune_roles_in(groups, commune.insee_code))
        return user

    def get_user(self, user_id):
        # With the last sign-out, which the session guard checks on every request.
        return self.UserModel.objects.select_related("signed_out").filter(pk=user_id).first()


# --- Views --------------------------------------------------------------------------------

def refused_page(request: HttpRequest, error: SignInRefused, status: int = 403) -> HttpResponse:
    logger.warning("sign-in refused on %s: %s (%s)", request.get_host(), error.code,
                   error.detail)
    return render(request, "accounts/refused.html",
                  {"message": error.message, "code": error.code}, status=status)


class SignIn(OIDCAuthenticationRequestView):
    """``/compte/connexion/``: off to the provider's authorization endpoint."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, **kwargs):
        # The library reads its settings (discovery) when the view is made, where a
        # refusal could not be shown: at ``get`` instead.
        View.__init__(self, **kwargs)

    def get(self, request):
        try:
            super().__init__()
        except SignInRefused as error:
            return refused_page(request, error, status=503)
        return super().get(request)


class Callback(OIDCAuthenticationCallbackView):
    def get(self, request):
        if request.GET.get("error"):
            error = refuse("provider_error", request.GET.get("error", ""))
            return refused_page(request, error)
        state = request.GET.get("state", "")
        if "code" in request.GET and state not in request.session.get("oidc_states", {}):
            return refused_page(request, refuse("state_unknown", "state not in session"),
                                status=400)
        try:
            return super().get(request)
        except SignInRefused as error:
            return refused_page(request, error)
        except SuspiciousOperation as exc:
            return refused_page(request, refuse("provider_error", str(exc)), status=400)

    def login_success(self):
        id_token = self.request.session.get("oidc_id_token", "")
        auth.login(self.request, self.user, backend="opsn.accounts.oidc.Backend")
        self.request.session["oidc_id_token"] = id_token
        self.request.session[SESSION_HOST] = request_host(self.request)
        self.request.session[SESSION_SIGNED_IN] = time.time()
        self.request.session[SESSION_EXPIRES] = time.time() + settings.SESSION_COOKIE_AGE
        logger.info("signed in on %s (%s)", request_host(self.request),
                    "operator" if self.user.is_staff else "person")
        return HttpResponseRedirect(self.success_url)


def request_host(request: HttpRequest) -> str:
    return request.get_host().rsplit(":", 1)[0].lower().rstrip(".")


def provider_logout_url(request: HttpRequest) -> str:
    """``OIDC_OP_LOGOUT_URL_METHOD``: the provider's RP-initiated logout (its
    ``end_session_endpoint``), back to this site's home page; this site's home page when
    the provider has none or does not answer."""
    try:
        end_session = provider().get("end_session_endpoint")
    except SignInRefused:
        end_session = None
    if not end_session:
        return "/"
    query = {"post_logout_redirect_uri": request.build_absolute_uri("/"),
             "client_id": settings.OIDC_RP_CLIENT_ID}
    if id_token := request.session.get("oidc_id_token"):
        query["id_token_hint"] = id_token
    return f"{end_session}?{urlencode(query)}"


class SignOutView(OIDCLogoutView):
    """``/compte/deconnexion/`` (POST): ends the platform's sessions on every host
    (``SignOut``, checked by the session guard), then the provider's."""

    def post(self, request):
        if request.user.is_authenticated:  # the sessions of the other hosts end with this one
            SignOut.objects.update_or_create(user_id=request.user.pk, defaults={"at": time.time()})
        return super().post(request)
