"""The local provider's store: accounts, second factors and memberships. The demo, the
test seam and the local provisioning implementation (accounts.identity) write here."""

from __future__ import annotations

import datetime
from typing import Any

import pyotp
from django.conf import settings
from django.contrib.auth import get_user_model
from oauth2_provider.models import Application

from opsn.idp.models import Identity, Membership

STAFF_GROUP = "/operator/staff"


def commune_group(insee_code: str, role: str) -> str:
    return f"/communes/{insee_code}/{role}"


def normalised(email: str) -> str:
    """An e-mail address as accounts are keyed: trimmed, in lower case. The account lookup
    and the sign-in's limits read it the same way."""
    return (email or "").strip().lower()


def account_ensure(email: str, *, password: str | None = None, given_name: str = "",
                   family_name: str = "", birthdate: datetime.date | None = None):
    """Create (or find) the provider's account for ``email``; set its password if given
    (None: unchanged; a new account without one cannot sign in until it is activated)."""
    User = get_user_model()
    email = normalised(email)
    user, created = User.objects.get_or_create(username=email, defaults={
        "email": email, "first_name": given_name, "last_name": family_name})
    if password is not None:
        user.set_password(password)
        user.save()
    elif created:
        user.set_unusable_password()
        user.save()
    identity, _ = Identity.objects.get_or_create(user=user)
    if birthdate and identity.birthdate != birthdate:
        identity.birthdate = birthdate
        identity.save(update_fields=["birthdate"])
    return user


def account(email: str):
    return get_user_model().objects.filter(username=normalised(email)).first()


def totp_enrol(user: Any) -> str:
    """The account's TOTP secret, created the first time (the second factor)."""
    identity, _ = Identity.objects.get_or_create(user=user)
    if not identity.totp_secret:
        identity.totp_secret = pyotp.random_base32()
        identity.save(update_fields=["totp_secret"])
    return identity.totp_secret


def totp_uri(user: Any) -> str:
    return pyotp.TOTP(totp_enrol(user)).provisioning_uri(
        name=user.get_username(), issuer_name=settings.OPSN_OPERATOR["short_name"])


def membership_add(user: Any, path: str) -> None:
    """Agents and staff get a second factor with their first membership."""
    Membership.objects.get_or_create(user=user, path=path)
    totp_enrol(user)


def membership_remove(user: Any, path: str) -> None:
    Membership.objects.filter(user=user, path=path).delete()


def groups_of(user: Any) -> list[str]:
    return sorted(Membership.objects.filter(user=user, blocked=False)
                  .values_list("path", flat=True))


def commune_block(insee_code: str, *, blocked: bool) -> int:
    return Membership.objects.filter(path__startswith=f"/communes/{insee_code}/").update(
        blocked=blocked)


def commune_forget(insee_code: str) -> int:
    return Membership.objects.filter(path__startswith=f"/communes/{insee_code}/").delete()[0]


def ensure_client():
    """The platform's client (confidential, authorization code, RS256, no consent
    screen: it is the operator's own platform). Its redirect URIs are checked by host
    (idp.validators), so one client serves every commune domain."""

    app = Application.objects.filter(client_id=settings.OPSN_OIDC_CLIENT_ID).first()
    if app is None:
        app = Application.objects.create(
            client_id=settings.OPSN_OIDC_CLIENT_ID,
            client_secret=settings.OPSN_OIDC_CLIENT_SECRET,
            name="Plateforme", client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            algorithm=Application.RS256_ALGORITHM, skip_authorization=True,
            redirect_uris=f"http://{settings.OPSN_CONSOLE_HOST}/compte/oidc/callback/",
            post_logout_redirect_uris=f"http://{settings.OPSN_CONSOLE_HOST}/")
    return app
