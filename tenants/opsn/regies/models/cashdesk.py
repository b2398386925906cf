"""The cash desk: the daily closing (arrêté de caisse) and the deposit to the public
accountant (versement au comptable). Both are never changed once recorded."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from opsn.regies.models.founding import PaymentMode, Regie


class DailyClosing(models.Model):
    """Arrêté de caisse of one day: per mode, what the journal expects and what the agent
    counted. A closed day takes no new entry."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="closings")
    day = models.DateField("journée")
    closed_by = models.CharField(max_length=254)
    closed_by_name = models.CharField(max_length=200, blank=True)
    closed_at = models.DateTimeField()
    notes = models.TextField("observations", blank=True)

    class Meta:
        ordering = ["regie", "-day"]
        constraints = [models.UniqueConstraint(fields=["regie", "day"], name="one_closing_a_day")]

    def __str__(self) -> str:
        return f"Arrêté {self.regie_id} du {self.day}"


class ClosingLine(models.Model):
    closing = models.ForeignKey(DailyClosing, on_delete=models.PROTECT, related_name="lines")
    mode = models.CharField(max_length=20, choices=PaymentMode.choices)
    entries = models.PositiveIntegerField(default=0)
    expected = models.DecimalField(max_digits=14, decimal_places=2)
    counted = models.DecimalField(max_digits=14, decimal_places=2)
    difference = models.GeneratedField(expression=F("counted") - F("expected"),
                                       output_field=models.DecimalField(max_digits=14,
                                                                        decimal_places=2),
                                       db_persist=True)
    reason = models.CharField("motif de l'écart", max_length=300, blank=True)

    class Meta:
        ordering = ["closing", "mode"]
        constraints = [
            models.UniqueConstraint(fields=["closing", "mode"], name="closing_mode_once"),
            models.CheckConstraint(condition=Q(counted=F("expected")) | ~Q(reason=""),
                                   name="closing_difference_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.closing_id} {self.mode}: {self.counted} / {self.expected}"


class Deposit(models.Model):
    """Versement au comptable: every entry of the régie posted after the previous deposit
    and up to ``last_entry`` (entries are numbered in posting order under the régie's
    lock), with its numbered slip (bordereau)."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="deposits")
    year = models.PositiveSmallIntegerField()
    number = models.PositiveIntegerField()
    first_entry = models.ForeignKey("regies.LedgerEntry", on_delete=models.PROTECT,
                                    related_name="+")
    last_entry = models.ForeignKey("regies.LedgerEntry", on_delete=models.PROTECT,
                                   related_name="+")
    total = models.DecimalField(max_digits=14, decimal_places=2)
    accountant = models.CharField(max_length=200, blank=True)
    made_by = models.CharField(max_length=254)
    made_by_name = models.CharField(max_length=200, blank=True)
    made_at = models.DateTimeField()

    class Meta:
        ordering = ["regie", "-made_at"]
        constraints = [
            models.UniqueConstraint(fields=["regie", "year", "number"], name="deposit_number_once"),
            models.UniqueConstraint(fields=["last_entry"], name="deposit_covers_once"),
        ]

    def __str__(self) -> str:
        return f"Versement {self.slip}"

    @property
    def slip(self) -> str:
        return f"V{self.year}-{self.number:04d}"


class DepositLine(models.Model):
    """The deposit's total for one mode; inserting it takes the amount off the holdings."""

    deposit = models.ForeignKey(Deposit, on_delete=models.PROTECT, related_name="lines")
    mode = models.CharField(max_length=20, choices=PaymentMode.choices)
    entries = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["deposit", "mode"]
        constraints = [models.UniqueConstraint(fields=["deposit", "mode"],
                                               name="deposit_mode_once")]

    def __str__(self) -> str:
        return f"{self.deposit_id} {self.mode}: {self.amount}"
