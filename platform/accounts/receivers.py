import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.dispatch import receiver
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.auth import ensure_local_account
from communes.signals import commune_schema_ready

logger = logging.getLogger("opsn.accounts")


@receiver(commune_schema_ready)
def invite_commune_administrator(sender, commune, admin_email=None, **kwargs):
    """The first administrator gets an account and an e-mail with a link to choose a
    password (Keycloak's invitation replaces this with the identity issue)."""
    if not admin_email:
        return
    user = ensure_local_account(admin_email)
    domain = commune.primary_domain or commune.domains.first().domain

    def send() -> None:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        link = f"http://{domain}/compte/activer/{uid}/{token}/"
        send_mail(
            subject=(f"Votre espace {commune.name} sur la plateforme "
                     f"{settings.OPSN_OPERATOR['short_name']}"),
            message=(f"Bonjour,\n\nVous êtes administrateur de l'espace de {commune.name}.\n"
                     f"Choisissez votre mot de passe : {link}\n\n"
                     f"{settings.OPSN_OPERATOR['name']}\n"),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[user.email],
        )
        logger.info("invitation sent to the administrator of %s", commune.insee_code)

    transaction.on_commit(send)
