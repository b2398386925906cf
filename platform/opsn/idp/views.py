"""The provider's pages: sign-in (e-mail and password, then the second factor for agents
and the operator's staff), the authorization endpoint, RP-initiated logout, activation."""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any
from urllib.parse import urlencode

import pyotp
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.views import PasswordResetConfirmView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from oauth2_provider.exceptions import InvalidOIDCClientError, InvalidOIDCRedirectURIError
from oauth2_provider.models import get_application_model
from oauth2_provider.views import AuthorizationView, TokenView
from oauth2_provider.views.oidc import RPInitiatedLogoutView

from opsn.idp import store
from opsn.idp.models import Identity
from opsn.idp.validators import platform_uri_allowed
from opsn.kernel.addresses import address_key, client_ip
from opsn.operations import throttle

logger = logging.getLogger("opsn.idp")
User = get_user_model()
PENDING = "idp_pending_user"  # password checked, second factor awaited
AMR = "idp_amr"


# The limits (opsn.operations.throttle): each attempt is counted before it is checked.
def _password_limit(email: str) -> throttle.Limit:
    """Wrong passwords per account: the e-mail as the account lookup reads it
    (``store.normalised``), so « Admin@… » and « admin@…\t » are one account."""
    return throttle.Limit("idp-password", email,
                          throttle.Rate.parse(settings.OPSN_IDP_SIGN_IN_RATE))


def _code_limit(user: Any) -> throttle.Limit:
    """Wrong second-factor codes per account: the account of the sign-in under way, held in
    the session since its password was checked, never a field of the form."""
    return throttle.Limit("idp-code", str(user.pk),
                          throttle.Rate.parse(settings.OPSN_IDP_CODE_RATE))


def _address_limit(request: HttpRequest) -> throttle.Limit:
    """Failed attempts per client address: high enough for a town hall's agents behind one
    address, so that one agent's mistakes never lock out another."""
    return throttle.Limit("idp-address", address_key(client_ip(request)),
                          throttle.Rate.parse(settings.OPSN_IDP_ADDRESS_RATE))


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target


def _finish(request: HttpRequest, user, amr: list[str], target: str) -> HttpResponse:
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[AMR] = amr
    logger.info("provider sign-in of %s (%s)", user.get_username(), "+".join(amr))
    return redirect(target)


TOO_MANY = ("Trop de tentatives de connexion. Pour protéger votre compte, attendez "
            "quelques minutes avant de réessayer.")


def _too_many(request: HttpRequest, template: str, context: dict, refused: throttle.Refused,
              who: str) -> HttpResponse:
    logger.warning("provider sign-in locked (%s) for %s from %s: %d attempts, until %s",
                   refused.limit.scope, who, client_ip(request), refused.count,
                   refused.until.isoformat(timespec="seconds"))
    context["error"] = f"{TOO_MANY} Réessayez après {timezone.localtime(refused.until):%H:%M}."
    return render(request, template, context, status=429)


@never_cache
@csrf_protect
def sign_in(request: HttpRequest) -> HttpResponse:
    context = {"next": _next(request), "email": ""}
    if request.method == "POST":
        email = store.normalised(request.POST.get("email", ""))
        context["email"] = email
        limits = (_password_limit(email), _address_limit(request))
        refused = throttle.take(*limits)
        if refused is not None:
            return _too_many(request, "idp/sign_in.html", context, refused, email)
        user = store.account(email) if email else None
        if user is None or not user.is_active or not user.check_password(
                request.POST.get("password", "")):
            logger.warning("provider sign-in refused for %s: wrong e-mail or password", email)
            context["error"] = "Adresse électronique ou mot de passe incorrect."
            return render(request, "idp/sign_in.html", context, status=400)
        throttle.forgive(limits[0])
        throttle.give_back(limits[1])
        identity, _ = Identity.objects.get_or_create(user=user)
        if identity.totp_secret:
            request.session.cycle_key()
            request.session[PENDING] = user.pk
            return redirect(f"{reverse('idp:code')}?{urlencode({'next': context['next']})}")
        return _finish(request, user, ["pwd"], context["next"])
    return render(request, "idp/sign_in.html", context)


@never_cache
@csrf_protect
def second_factor(request: HttpRequest) -> HttpResponse:
    user: Any = User.objects.filter(pk=request.session.get(PENDING, 0)).first()
    if user is None:
        return redirect("idp:sign-in")
    context = {"next": _next(request)}
    if request.method == "POST":
        limits = (_code_limit(user), _address_limit(request))
        refused = throttle.take(*limits)
        if refused is not None:
            return _too_many(request, "idp/code.html", context, refused, user.get_username())
        code = "".join(request.POST.get("code", "").split())
        totp = pyotp.TOTP(user.idp_identity.totp_secret)
        # Accept the current step and its neighbours (clock drift), compared in constant time,
        # each code once: the step must be later than the last one accepted.
        now_step = int(time.time() // totp.interval)
        steps = [step for step in (now_step - 1, now_step, now_step + 1)
                 if len(code) == 6 and hmac.compare_digest(code, totp.at(step * totp.interval))]
        if steps and Identity.objects.filter(user=user, totp_last_step__lt=steps[-1]).update(
                totp_last_step=steps[-1]):
            del request.session[PENDING]
            throttle.forgive(limits[0])
            throttle.give_back(limits[1])
            return _finish(request, user, ["pwd", "otp"], context["next"])
        if steps:
            logger.warning("provider second factor replayed for %s", user.get_username())
            context["error"] = "Ce code a déjà servi : attendez le code suivant de votre " \
                               "application d'authentification."
            return render(request, "idp/code.html", context, status=400)
        logger.warning("provider second factor refused for %s", user.get_username())
        context["error"] = "Code incorrect ou expiré. Saisissez le code à 6 chiffres affiché " \
                           "par votre application d'authentification."
        return render(request, "idp/code.html", context, status=400)
    return render(request, "idp/code.html", context)


class Authorize(AuthorizationView):
    """The authorization endpoint: PKCE with S256 only; the way the person signed in
    (``amr``) goes with the code."""

    login_url = reverse_lazy("idp:sign-in")

    def dispatch(self, request, *args, **kwargs):
        store.ensure_client()
        if request.GET.get("code_challenge_method", "S256") != "S256":
            return render(request, "idp/error.html", {
                "message": "Demande de connexion refusée : la méthode PKCE doit être S256."},
                status=400)
        return super().dispatch(request, *args, **kwargs)

    def create_authorization_response(self, request, scopes, credentials, allow):
        credentials = {**credentials, "opsn_amr": request.session.get(AMR, ["pwd"])}
        return super().create_authorization_response(request, scopes, credentials, allow)


@method_decorator(csrf_exempt, name="dispatch")  # a server-to-server endpoint
class Token(TokenView):
    def dispatch(self, request, *args, **kwargs):
        store.ensure_client()
        return super().dispatch(request, *args, **kwargs)


class Logout(RPInitiatedLogoutView):
    template_name = "idp/logout.html"

    def validate_post_logout_redirect_uri(self, application, post_logout_redirect_uri):
        if post_logout_redirect_uri and not platform_uri_allowed(post_logout_redirect_uri,
                                                                  path=None):
            raise InvalidOIDCRedirectURIError("Adresse de retour inconnue.")

    def get_request_application(self, id_token, client_id):
        """An unknown ``client_id`` is the protocol's refusal, not a 500 (the toolkit's
        own ``objects.get`` lets ``DoesNotExist`` through)."""
        if client_id:
            application = get_application_model().objects.filter(client_id=client_id).first()
            if application is None:
                raise InvalidOIDCClientError("Application cliente inconnue.")
            return application
        return super().get_request_application(id_token, client_id)

    def do_logout(self, application=None, post_logout_redirect_uri=None, state=None,
                  token_user=None):
        logger.info("provider sign-out of %s",
                    token_user.get_username() if token_user else "an anonymous session")
        return super().do_logout(application, post_logout_redirect_uri, state, token_user)


class Activate(PasswordResetConfirmView):
    """The invitation's link: the new agent chooses a password, then adds the second
    factor to an authenticator application."""

    template_name = "idp/activate.html"
    success_url = reverse_lazy("idp:activated")
    post_reset_login = False

    def form_valid(self, form):
        response = super().form_valid(form)
        self.request.session["idp_activated"] = form.user.pk
        return response


def activated(request: HttpRequest) -> HttpResponse:
    user: Any = User.objects.filter(pk=request.session.pop("idp_activated", 0)).first()
    uri = store.totp_uri(user) if user is not None and store.groups_of(user) else ""
    secret = user.idp_identity.totp_secret if uri else ""
    return render(request, "idp/activated.html", {"totp_uri": uri, "totp_secret": secret})


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "idp/home.html", {})
