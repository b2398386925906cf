from __future__ import annotations

from django.db import models
from django.db.models import Q


class LinkMethod(models.TextChoices):
    CODE = "code", "code de rattachement"
    EMAIL = "email", "adresse électronique vérifiée"


class PayerLink(models.Model):
    """A person (their identity provider's subject) is linked to a payer record of a
    commune. The payer is named by its id in the commune's schema: no foreign key crosses
    schemas (a commune's schema may live on another node). Unlinking keeps the row."""

    subject = models.CharField(max_length=255)
    commune = models.ForeignKey("communes.Commune", on_delete=models.CASCADE,
                                related_name="payer_links")
    payer_id = models.BigIntegerField()
    payer_name = models.CharField(max_length=200)  # as it was when linked, for the list
    method = models.CharField(max_length=10, choices=LinkMethod.choices)
    linked_at = models.DateTimeField(auto_now_add=True)
    unlinked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["commune__name", "payer_name"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "commune", "payer_id"],
                                    condition=Q(unlinked_at__isnull=True),
                                    name="payer_linked_once"),
        ]
        indexes = [models.Index(fields=["subject"], condition=Q(unlinked_at__isnull=True),
                                name="payer_links_of_subject")]

    def __str__(self) -> str:
        return f"{self.subject} → {self.commune_id}/{self.payer_id}"


class LinkAttempt(models.Model):
    """A link code typed by a person and checked, right or wrong: the record of it (the
    limits that stop guessing count in ``opsn.operations.throttle``, before the check)."""

    subject = models.CharField(max_length=255)
    commune = models.ForeignKey("communes.Commune", on_delete=models.CASCADE,
                                related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    succeeded = models.BooleanField()
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["subject", "at"], name="link_attempts_of_subject")]

    def __str__(self) -> str:
        return f"{self.subject} {self.at:%Y-%m-%d %H:%M} {'ok' if self.succeeded else 'ko'}"
