"""The request's host name picks the schema.

Operator hosts (console, portal) are served by the public schema, and so is the local
OpenID Connect provider's host (``OPSN_IDP_HOST``, its own URL map). Any other host must be
a domain of the commune registry: an unknown host gets a clear 404, a suspended commune a
clear 503 with the operator's contact, and nothing of any commune's schema is read.

Lookups are cached in the process for ``OPSN_ROUTING_CACHE_SECONDS`` (a change made
elsewhere, such as a suspension from another process, is seen within that delay; the
process that made the change forgets its cache at once), and the connection's search_path
is changed only when the schema changes: stock django-tenants does one query to find the
tenant and one ``SET search_path`` on every request.
"""

from __future__ import annotations

import threading
import time
from typing import cast

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.functional import SimpleLazyObject

from opsn.branding.selectors import current_profile
from opsn.communes.models import Commune, Domain
from opsn.kernel import tenancy
from opsn.kernel.errors import CommuneReadOnly
from opsn.kernel.tenancy import connection

_MAX_ENTRIES = 10_000
_cache: dict[str, tuple[float, Commune | None]] = {}
_lock = threading.Lock()


def forget_all() -> None:
    with _lock:
        _cache.clear()


def forget_soon() -> None:
    """After a registry change: forget now (this transaction sees its own change) and
    again at commit (another request may have cached the old state in between)."""

    forget_all()
    transaction.on_commit(forget_all)


def commune_for_host(host: str) -> Commune | None:
    now = time.monotonic()
    hit = _cache.get(host)
    if hit is not None and hit[0] > now:
        return hit[1]
    if connection.schema_name != "public":
        connection.set_schema_to_public()
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    commune = domain.tenant if domain is not None else None
    with _lock:
        if len(_cache) >= _MAX_ENTRIES:  # random Host headers must not grow memory
            _cache.clear()
        _cache[host] = (now + settings.OPSN_ROUTING_CACHE_SECONDS, commune)
    return commune


class RoutedRequest(HttpRequest):
    """A request after routing: ``commune`` is the commune served (None on the operator's
    hosts); ``tenant`` is the same, as django-tenants names it."""

    commune: Commune | None
    tenant: Commune
    urlconf: str


class CommuneRequest(RoutedRequest):
    """A request under a commune's domain (the views of tenant apps)."""

    commune: Commune


def request_host(request: HttpRequest) -> str:
    return request.get_host().rsplit(":", 1)[0].lower().rstrip(".")


class CommuneRoutingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, http_request: HttpRequest) -> HttpResponse:
        request = cast(RoutedRequest, http_request)
        host = request_host(request)
        if host == settings.OPSN_IDP_HOST and settings.OPSN_IDP == "local":
            # The local OpenID Connect provider: public schema, its own URL map.
            tenancy.enter(None)
            request.commune = None
            request.urlconf = "opsn.urls_idp"
            return self.get_response(request)
        if host in settings.OPSN_OPERATOR_HOSTS:
            tenancy.enter(None)
            request.commune = None
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            return self.get_response(request)

        tenancy.leave()
        commune = commune_for_host(host)
        if commune is None:
            tenancy.enter(None)
            return HttpResponse(
                render_to_string("communes/unknown_host.html",
                                 {"host": host, "operator": settings.OPSN_OPERATOR,
                                  "portal": settings.OPSN_BASE_DOMAIN}),
                status=404)
        if commune.is_suspended:
            return HttpResponse(
                render_to_string("communes/suspended.html",
                                 {"commune": commune, "operator": settings.OPSN_OPERATOR}),
                status=503, headers={"Retry-After": "86400"})
        if commune.is_read_only and request.method not in SAFE_METHODS and not any(
                request.path.startswith(p) for p in WRITABLE_WHILE_READ_ONLY):
            return read_only_response(request, CommuneReadOnly.for_commune(commune))
        # The commune's database and schema, for the rest of this thread's request (set
        # again by the next request: nothing of it is reset, as with the search_path).
        tenancy.enter(commune)
        request.commune = commune
        request.tenant = commune
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        """A write refused by ``tenancy.atomic`` because the commune became read-only
        while the request ran: the same clear answer as above."""
        if isinstance(exception, CommuneReadOnly):
            return read_only_response(request, exception)
        return None


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Signing in and out writes the platform's sessions, not the commune's data.
WRITABLE_WHILE_READ_ONLY = ("/compte/",)


def read_only_response(request: HttpRequest, error: CommuneReadOnly) -> HttpResponse:
    """503 with Retry-After: the API's error shape under /api/, a French page elsewhere."""
    headers = {"Retry-After": "120"}
    if request.path.startswith("/api/"):
        return JsonResponse({"code": error.code, "message": error.message, "field": None,
                             "line": None}, status=503, headers=headers)
    return HttpResponse(
        render_to_string("communes/read_only.html",
                         {"message": error.message, "operator": settings.OPSN_OPERATOR,
                          "back": request.path}),
        status=503, headers=headers)


def branding_context(request: HttpRequest) -> dict:
    """Template variable ``brand``: the commune's profile under its domain, the operator's
    otherwise. Lazy: a page that does not show it costs no query."""
    commune = getattr(request, "commune", None)
    if commune is None:
        return {"brand": _OperatorBrand(), "commune": None}

    def load():
        return current_profile()

    return {"brand": SimpleLazyObject(load), "commune": commune}


class _OperatorBrand:
    def __init__(self):
        op = settings.OPSN_OPERATOR
        self.display_name = op["name"]
        self.short_name = op["short_name"]
        self.primary_color = op["primary_color"]
        self.primary_text_color = "#FFFFFF"
        self.secondary_color = op["primary_color"]
        self.secondary_text_color = "#FFFFFF"
        self.email = op["email"]
        self.phone = op["phone"]
        self.has_logo = False
        self.is_operator = True
