from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from opsn.agents.selectors import roles_of
from opsn.kernel.actors import Actor
from opsn.kernel.addresses import client_ip


def is_operator(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_staff and user.is_active)


def _to_sign_in(request: HttpRequest) -> HttpResponse:
    if getattr(request, "session_expired", False):
        return render(request, "accounts/expired.html", {"next": request.get_full_path()},
                      status=401)
    return redirect_to_login(request.get_full_path())


def operator_required(view: Callable) -> Callable:
    """Operator's staff only (console). Anonymous users are sent to the sign-in page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return _to_sign_in(request)
        if not is_operator(request):
            raise PermissionDenied("Réservé à l'équipe de l'opérateur.")
        return view(request, *args, **kwargs)

    return wrapped


def account_id(request: HttpRequest) -> str:
    """The person's account as the commune's schema names it (``AgentRole.account``):
    the e-mail address the identity provider vouches for. The user row itself is keyed
    by the provider's ``sub``."""
    return (request.user.email or "").lower() if request.user.is_authenticated else ""


def subject_of(request: HttpRequest) -> str:
    """The identity provider's subject (``sub``) of the signed-in person: what the
    citizen's links to payer records are keyed by."""
    return request.user.get_username() if request.user.is_authenticated else ""


def signed_in_required(view: Callable) -> Callable:
    """Anyone signed in (a citizen's pages). Anonymous users are sent to sign in."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return _to_sign_in(request)
        return view(request, *args, **kwargs)

    return wrapped


def commune_roles(request: HttpRequest) -> set[str]:
    """Roles the signed-in person holds in the commune being served. Read once per request
    (a page asks it from its decorator, its régie lookup and its menu; a change of roles
    is followed by a redirect, so a new request)."""
    if not request.user.is_authenticated:
        return set()
    key = (getattr(getattr(request, "commune", None), "pk", None), account_id(request))
    known = getattr(request, "_opsn_commune_roles", None)
    if known is None or known[0] != key:
        known = (key, frozenset(roles_of(key[1])))
        request._opsn_commune_roles = known  # type: ignore[attr-defined]
    return set(known[1])


def actor_of(request: HttpRequest) -> Actor:
    """The signed-in person, as services record them (ledger, audit log)."""
    user = request.user
    return Actor(account=account_id(request),
                 name=(user.get_full_name() if user.is_authenticated else "")
                 or account_id(request), ip=client_ip(request))


def commune_role_required(*roles: str) -> Callable:
    """Agents of the current commune holding one of ``roles`` (read from its schema)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            if not request.user.is_authenticated:
                return _to_sign_in(request)
            if not commune_roles(request) & set(roles):
                raise PermissionDenied("Vous n'avez pas de rôle dans cette commune pour cela.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
