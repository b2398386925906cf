"""The provisioning interface (accounts.identity) over the local provider's store."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from opsn.idp import store
from opsn.kernel.urls import public_url

logger = logging.getLogger("opsn.idp")


ROLE_LABELS = {"administrator": "administrateur", "finance": "service financier",
               "regisseur": "régisseur titulaire", "suppleant": "mandataire suppléant",
               "mandataire": "mandataire"}


def _mail(commune, user, role: str) -> None:
    """After commit: the activation link to a new account, a notice to an existing one."""
    label = ROLE_LABELS.get(role, role)
    space = public_url(commune.primary_domain, "/espace/")
    if user.has_usable_password():
        body = (f"Bonjour,\n\nVous avez désormais le rôle « {label} » dans l'espace de "
                f"{commune.name} ({space}). Connectez-vous avec votre compte habituel.\n\n")
    else:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        link = f"{settings.OPSN_OIDC_ISSUER}/activer/{uid}/{token}/"
        body = (f"Bonjour,\n\nVous êtes {label} de l'espace de {commune.name}"
                f" ({space}).\n"
                f"Activez votre compte et choisissez votre mot de passe : {link}\n"
                "La double authentification est obligatoire pour les agents : "
                "gardez votre application d'authentification à portée de main.\n\n")

    def send() -> None:
        send_mail(
            subject=(f"Votre espace {commune.name} sur la plateforme "
                     f"{settings.OPSN_OPERATOR['short_name']}"),
            message=body + f"{settings.OPSN_OPERATOR['name']}\n",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[user.email],
        )
        logger.info("invitation (%s) sent for %s", role, commune.insee_code)

    transaction.on_commit(send)


class LocalProvisioning:
    def commune_provisioned(self, commune, admin_email: str | None) -> None:
        if not admin_email:
            return
        user = store.account_ensure(admin_email)
        store.membership_add(user, store.commune_group(commune.insee_code, "administrator"))
        if user.has_usable_password():
            return  # already has an account (an agent elsewhere): no activation needed
        _mail(commune, user, "administrator")

    def agent_granted(self, commune, email: str, role: str) -> None:
        user = store.account_ensure(email)
        store.membership_add(user, store.commune_group(commune.insee_code, role))
        _mail(commune, user, role)

    def agent_revoked(self, commune, email: str, role: str) -> None:
        user = store.account(email)
        if user is not None:
            store.membership_remove(user, store.commune_group(commune.insee_code, role))

    def account_active(self, email: str) -> bool:
        user = store.account(email)
        return user is not None and user.has_usable_password()

    def invitation_resent(self, commune, email: str, role: str) -> None:
        user = store.account(email)
        if user is not None:
            _mail(commune, user, role)

    def commune_suspended(self, commune) -> None:
        count = store.commune_block(commune.insee_code, blocked=True)
        logger.info("local provider: %d memberships of %s blocked", count, commune.insee_code)

    def commune_resumed(self, commune) -> None:
        store.commune_block(commune.insee_code, blocked=False)

    def commune_removed(self, commune) -> None:
        store.commune_forget(commune.insee_code)
