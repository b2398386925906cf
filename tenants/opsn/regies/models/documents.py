"""What happened to the invoice documents: each invoice's e-mail (sent once, or failed
and why), and the batches of invoices printed as one PDF in the background."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from opsn.regies.models.founding import Regie
from opsn.regies.models.imports import ImportBatch
from opsn.regies.models.payers import Invoice


class MailingStatus(models.TextChoices):
    SENT = "sent", "envoyée"
    FAILED = "failed", "échec de l'envoi"


class InvoiceMailing(models.Model):
    """The e-mail of one invoice to its payer: at most one row per invoice, so a job run
    twice (a retry, a second worker) sends it once. A failure keeps its error for the
    agents until a later attempt succeeds."""

    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="mailing")
    to = models.CharField("destinataire", max_length=254)
    status = models.CharField(max_length=10, choices=MailingStatus.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    attempted_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.CharField(max_length=254, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(
            condition=Q(status="failed") | Q(sent_at__isnull=False), name="mailing_sent_when")]

    def __str__(self) -> str:
        return f"{self.invoice_id} → {self.to}: {self.status}"


class BatchStatus(models.TextChoices):
    PENDING = "pending", "en attente"
    RUNNING = "running", "en cours"
    DONE = "done", "prêt"
    FAILED = "failed", "échec"


class DocumentBatch(models.Model):
    """All the invoices of an import, or of a month, printed as one PDF by a background
    job; ``done`` out of ``total`` is the progress shown on the page."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="document_batches")
    import_batch = models.ForeignKey(ImportBatch, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    month = models.DateField(null=True, blank=True)  # its first day
    status = models.CharField(max_length=10, choices=BatchStatus.choices,
                              default=BatchStatus.PENDING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=500, blank=True)
    requested_by = models.CharField(max_length=254)
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [models.CheckConstraint(
            condition=Q(import_batch__isnull=True, month__isnull=False)
            | Q(import_batch__isnull=False, month__isnull=True), name="batch_import_or_month")]

    def __str__(self) -> str:
        return f"Lot {self.pk} ({self.regie_id})"

    @property
    def percent(self) -> int:
        return 100 if self.status == BatchStatus.DONE else (
            int(100 * self.done / self.total) if self.total else 0)
