import uuid

from django.conf import settings
from django.db import models


class Identity(models.Model):
    """What the provider knows of a person beyond Django's user: the stable subject,
    the birth date (FranceConnect's claim) and the TOTP secret of the second factor."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="idp_identity")
    sub = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    birthdate = models.DateField(null=True, blank=True)
    totp_secret = models.CharField(max_length=64, blank=True)
    # The last 30-second step whose code was accepted: a code works once.
    totp_last_step = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.sub})"


class Membership(models.Model):
    """A group path, as Keycloak's group mapper writes it: ``/communes/69259/regisseur``,
    ``/operator/staff``. ``blocked`` while the commune is suspended: not emitted."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="idp_memberships")
    path = models.CharField(max_length=200)
    blocked = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "path"],
                                               name="idp_membership_once")]

    def __str__(self) -> str:
        return f"{self.user.get_username()} {self.path}"
