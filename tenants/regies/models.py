from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class PaymentMode(models.TextChoices):
    CASH = "cash", "espèces"
    CHEQUE = "cheque", "chèque"
    CARD = "card", "carte bancaire (TPE)"
    TRANSFER = "transfer", "virement"
    DIRECT_DEBIT = "direct_debit", "prélèvement SEPA"
    ONLINE = "online", "paiement en ligne (PayFiP)"
    OTHER = "other", "autre"


class Regie(models.Model):
    """A régie de recettes, as its founding act (acte constitutif) defines it."""

    number = models.CharField("numéro", max_length=20, unique=True)
    name = models.CharField("nom", max_length=200)
    accepted_modes = ArrayField(models.CharField(max_length=20, choices=PaymentMode.choices),
                                verbose_name="modes d'encaissement")
    cash_limit = models.DecimalField("encaisse maximale", max_digits=12, decimal_places=2)
    cash_float = models.DecimalField("fonds de caisse", max_digits=12, decimal_places=2,
                                     default=Decimal("0.00"))
    deposit_period_days = models.PositiveSmallIntegerField("périodicité des versements (jours)",
                                                           default=30)
    accountant = models.CharField("comptable public assignataire", max_length=200, blank=True)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(condition=Q(cash_limit__gte=0), name="regie_cash_limit"),
            models.CheckConstraint(condition=Q(deposit_period_days__lte=31),
                                   name="regie_deposit_at_least_monthly"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class ReceiptCounter(models.Model):
    """Receipt numbers of one régie and year, taken under a row lock: no gap, no double."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["regie", "year"],
                                               name="one_counter_per_regie_year")]

    def __str__(self) -> str:
        return f"{self.regie_id} {self.year}: {self.last_number}"


class LedgerEntry(models.Model):
    """A posted payment (or the reversal of one), with its receipt number. Never updated or
    deleted (database triggers); each entry's hash covers the previous one's."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="entries")
    year = models.PositiveSmallIntegerField()
    receipt_number = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    mode = models.CharField(max_length=20, choices=PaymentMode.choices)
    payer_name = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True)
    agent = models.CharField(max_length=254)
    posted_at = models.DateTimeField()
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reversed_by")
    reason = models.CharField(max_length=300, blank=True)
    # Both written by the database on insert (migration 0003), never by the application.
    previous_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, unique=True, blank=True, editable=False)

    class Meta:
        ordering = ["regie", "year", "receipt_number"]
        constraints = [
            models.UniqueConstraint(fields=["regie", "year", "receipt_number"],
                                    name="receipt_number_once"),
            models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_not_zero"),
            models.CheckConstraint(condition=Q(reverses__isnull=True, amount__gt=0)
                                   | Q(reverses__isnull=False, amount__lt=0),
                                   name="entry_sign_matches_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.regie_id}/{self.year}-{self.receipt_number} {self.amount} €"

    @property
    def receipt(self) -> str:
        return f"{self.year}-{self.receipt_number:06d}"
