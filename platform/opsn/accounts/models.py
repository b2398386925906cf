from django.conf import settings
from django.db import models

from opsn.kernel.credentials import new_secret


class OperatorApiToken(models.Model):
    """A service credential for the operator's HTTP API. Only its hash is stored."""

    name = models.CharField(max_length=100, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name

    @classmethod
    def issue(cls, name: str) -> tuple["OperatorApiToken", str]:
        raw, key_hash = new_secret("opsn_")
        return cls.objects.create(name=name, key_hash=key_hash), raw


class SignOut(models.Model):
    """The last time a person signed out, on any of the platform's sites: every session
    they opened before then, on every host, is over (each host keeps its own session)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="signed_out")
    at = models.FloatField()  # a Unix timestamp, as the session's sign-in time

    def __str__(self) -> str:
        return f"{self.user_id} signed out at {self.at}"
