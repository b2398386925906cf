"""Middlewares of operations. ``ProbeMiddleware`` goes first (before host routing);
``RequestContextMiddleware`` right after routing, so that it knows the commune."""

from __future__ import annotations

import hmac
import ipaddress
import time
import uuid
from urllib.parse import urlsplit

import sentry_sdk
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.utils.cache import add_never_cache_headers
from django.utils.module_loading import import_string

from opsn.communes.routing import commune_for_host
from opsn.kernel import context, metrics
from opsn.kernel.production import is_production
from opsn.operations import probes
from opsn.operations.metrics import exposition


class ProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path == "/healthz":
            return probes.liveness()
        if path == "/readyz":
            return probes.readiness()
        if path == "/metrics":
            return metrics_response(request)
        return self.get_response(request)


def metrics_response(request: HttpRequest) -> HttpResponse:
    """``/metrics``: never under a commune's domain (404 there, as for any page it does not
    have), and only with ``OPSN_METRICS_TOKEN`` as a bearer token. Without a token set it
    is open in development only: production refuses to start without one
    (``opsn.kernel.production``) and, should it run anyway, answers nothing."""

    try:
        on_commune = is_commune_host(raw_host(request))
    except DatabaseError:
        return HttpResponse("registry unavailable", status=503, content_type="text/plain")
    if on_commune:
        return HttpResponse("not found", status=404, content_type="text/plain")
    token = settings.OPSN_METRICS_TOKEN
    if not token and is_production():
        return HttpResponse("not found", status=404, content_type="text/plain")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and not (scheme.lower() == "bearer"
                      and hmac.compare_digest(given.strip().encode(), token.encode())):
        return HttpResponse("unauthorized", status=401, content_type="text/plain",
                            headers={"WWW-Authenticate": "Bearer"})
    data, content_type = exposition()
    return HttpResponse(data, content_type=content_type)


def raw_host(request: HttpRequest) -> str:
    """The Host header's name, without port: probes and metrics answer before Django checks
    ``ALLOWED_HOSTS`` (a scraper asks the pod's address)."""
    host = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
    return split_domain_port(host.lower())[0].rstrip(".")


def is_commune_host(host: str) -> bool:
    """Is ``host`` a commune's domain? Not the operator's hosts, not an address; otherwise
    the registry says (its answer is cached)."""
    if not host or host in settings.OPSN_OPERATOR_HOSTS or host == settings.OPSN_IDP_HOST:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return commune_for_host(host) is not None
    return False


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        commune = getattr(request, "commune", None)
        tokens = (context.request_id.set(rid),
                  context.commune.set(commune.insee_code if commune else "-"))
        if settings.SENTRY_DSN:

            sentry_sdk.set_tag("commune", commune.insee_code if commune else "operator")
            user = request.user if hasattr(request, "user") else None
            role = ("operator" if user and user.is_staff else
                    "signed-in" if user and user.is_authenticated else "anonymous")
            sentry_sdk.set_tag("role", role)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            context.request_id.reset(tokens[0])
            context.commune.reset(tokens[1])
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match and match.view_name else "unmatched"
        metrics.REQUESTS.labels(view, request.method, f"{response.status_code // 100}xx").inc()
        metrics.LATENCY.labels(view).observe(time.perf_counter() - started)
        response["X-Request-ID"] = rid
        return response


class ContentSecurityPolicyMiddleware:
    """Pages load nothing from elsewhere; no page may be framed; forms post to the site
    itself — and to the identity provider, where signing out sends the browser, and to
    the online payment provider (PayFiP), where « Payer en ligne » sends it.

    A form's redirects count for ``form-action`` too (browsers enforce it along the
    chain), so the local identity provider's own pages, whose sign-in forms end on the
    callback of whichever site asked (any commune's domain), do without it."""

    BASE = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'; base-uri 'self'")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.policy(request))
        return response

    def policy(self, request: HttpRequest) -> str:
        if request.get_host().rsplit(":", 1)[0].lower() == settings.OPSN_IDP_HOST:
            return self.BASE
        issuer = urlsplit(settings.OPSN_OIDC_ISSUER)
        provider = f" {issuer.scheme}://{issuer.netloc}" if issuer.netloc else ""
        payfip = urlsplit(settings.OPSN_PAYFIP_PAYMENT_URL if settings.OPSN_PAYFIP == "payfip"
                          else settings.OPSN_PAYFIP_LOCAL_URL)
        if payfip.netloc:
            provider += f" {payfip.scheme}://{payfip.netloc}"
        return f"{self.BASE}; form-action 'self'{provider}"


class ApiLaneMiddleware:
    """The commune API's requests (software calling with a bearer credential, right after
    routing) take a lane of their own: what only pages need — sessions, CSRF, the signed-in
    user and its session guard, messages — is skipped; security headers (set outside) and
    the request context (inside the lane) still apply. About a sixth of the CPU of one
    payment posted over the API, the figure its benchmark is bound by (docs/benchmarks.md)."""

    PREFIX = "/api/"
    LANE = ["opsn.operations.middleware.RequestContextMiddleware"]

    def __init__(self, get_response):
        self.get_response = get_response
        # The lane's end is Django's own: resolve the URL (request.urlconf, set by the
        # routing), call the view. Its middlewares are plain callables (no process_view).
        end = BaseHandler()
        end._view_middleware, end._template_response_middleware = [], []
        end._exception_middleware = []
        lane = convert_exception_to_response(end._get_response)
        for path in reversed(self.LANE):
            middleware = import_string(path)
            if any(hasattr(middleware, hook) for hook in (
                    "process_view", "process_exception", "process_template_response")):
                raise ImproperlyConfigured(f"{path}: the API lane takes plain middlewares")
            lane = convert_exception_to_response(middleware(lane))
        self.lane = lane

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (getattr(request, "commune", None) is not None
                and request.path_info.startswith(self.PREFIX)):
            response = self.lane(request)
            # What CommonMiddleware does for pages: a length, not a chunked body.
            if not response.streaming and not response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
            return response
        return self.get_response(request)


class PrivateResponseMiddleware:
    """No copy of a page or file with personal data is kept by a browser's cache or a
    proxy: ``Cache-Control: no-store, private`` (Django's ``add_never_cache_headers``) on
    every response

    - to a signed-in person, or to a request carrying credentials (the APIs, metrics);
    - that sets a cookie (signing in, a session);
    - under the spaces that hold personal data, whoever asks: the agents' (``/espace/``),
      the citizen's (``/mon-espace/``), the APIs, sign-in, billing, online payment;
    - on the operator's console and on the identity provider's host.

    Public files are left alone: static files (WhiteNoise answers them before this), and
    the commune's logo and emblem. One rule, here, after routing (it knows the host) and
    around the API lane (which it also covers)."""

    PRIVATE_PATHS = ("/espace/", "/mon-espace/", "/api/", "/compte/", "/facturation/",
                     "/paiement-en-ligne/", "/payfip-local/")
    PUBLIC_FILES = ("/static/", "/identite/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.is_private(request, response):
            add_never_cache_headers(response)
        return response

    def is_private(self, request: HttpRequest, response: HttpResponse) -> bool:
        path = request.path_info
        if (path.startswith(self.PRIVATE_PATHS) or response.cookies
                or "HTTP_AUTHORIZATION" in request.META
                or raw_host(request) in (settings.OPSN_CONSOLE_HOST, settings.OPSN_IDP_HOST)):
            return True
        if path.startswith(self.PUBLIC_FILES):
            return False
        user = getattr(request, "user", None)  # none on the API lane
        return user is not None and user.is_authenticated
