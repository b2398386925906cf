"""Files imported into a régie (invoices from the business software, card-terminal
exports, bank statements), and the payments they brought that no invoice matched."""

from __future__ import annotations

from django.db import models

from opsn.regies.models.founding import PaymentMode, Regie


class ImportKind(models.TextChoices):
    INVOICES = "invoices", "factures (CSV)"
    CARD = "card", "paiements TPE (CSV)"
    BANK = "bank", "relevé bancaire (CAMT.053)"


class ImportBatch(models.Model):
    """One imported file. The same file is never imported twice into a régie."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="imports")
    kind = models.CharField(max_length=10, choices=ImportKind.choices)
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    lines = models.PositiveIntegerField(default=0)
    outcome = models.JSONField(default=dict)  # counts: posted, queued, skipped, invoices…
    imported_by = models.CharField(max_length=254)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-imported_at"]
        constraints = [models.UniqueConstraint(fields=["regie", "kind", "sha256"],
                                               name="file_imported_once")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.file_name}"


class QueueStatus(models.TextChoices):
    PENDING = "pending", "à rapprocher"
    POSTED = "posted", "encaissé"
    DISMISSED = "dismissed", "écarté"


class ImportedPayment(models.Model):
    """A payment found in an imported file that no invoice matched: it waits for an agent,
    who posts it (to a payer, an invoice) or dismisses it with a reason."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="queue")
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="queued")
    line = models.PositiveIntegerField("ligne du fichier")
    paid_on = models.DateField("payé le")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    mode = models.CharField(max_length=20, choices=PaymentMode.choices)
    reference = models.CharField("référence", max_length=300, blank=True)
    payer_hint = models.CharField("payeur indiqué", max_length=200, blank=True)
    external_ref = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=QueueStatus.choices,
                              default=QueueStatus.PENDING)
    entry = models.OneToOneField("regies.LedgerEntry", null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="imported_from")
    resolved_by = models.CharField(max_length=254, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["regie", "status", "paid_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["regie", "mode", "external_ref"],
                                    name="queued_payment_once"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="queued_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.paid_on} {self.amount} € {self.reference}"
