"""The commune's budgets as the public accountant knows them (what a PES V2 file's header
carries), and the M57 plan of accounts its régies impute their products to."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class BudgetKind(models.TextChoices):
    PRINCIPAL = "principal", "budget principal"
    ANNEX = "annex", "budget annexe"


class Budget(models.Model):
    """A budget of the commune (the principal, or an annex: water, a cultural centre…), with
    the identifiers the accountant's application (Hélios) files it under. The PES V2
    header (``EnTetePES``) and envelope (``Enveloppe``) are written from it."""

    kind = models.CharField("type", max_length=10, choices=BudgetKind.choices)
    name = models.CharField("libellé du budget", max_length=100,
                            help_text="LibelleColBud du PES : « Ville de … – budget principal »")
    siret = models.CharField("SIRET du budget", max_length=14)
    collectivity_code = models.CharField("code collectivité (CodCol)", max_length=3)
    budget_code = models.CharField("code budget (CodBud)", max_length=2)
    post_code = models.CharField("code du poste comptable (IdPost)", max_length=7)
    post_name = models.CharField("poste comptable (LibellePoste)", max_length=100)
    sender_code = models.CharField("sigle de l'émetteur (Emetteur/Sigle)", max_length=30,
                                   blank=True)
    sender_address = models.CharField("adresse de l'émetteur (Emetteur/Adresse)",
                                      max_length=100, blank=True)
    operator = models.CharField("tiers de télétransmission", max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["kind", "name"]  # « annex » < « principal »: the view puts it first
        constraints = [
            models.UniqueConstraint(fields=["kind"], condition=Q(kind="principal"),
                                    name="budget_one_principal"),
            models.UniqueConstraint(fields=["collectivity_code", "budget_code"],
                                    name="budget_codes_once"),
            models.CheckConstraint(condition=Q(siret__regex=r"^[0-9]{14}$"),
                                   name="budget_siret_digits"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_principal(self) -> bool:
        return self.kind == BudgetKind.PRINCIPAL


class PlanEntry(models.Model):
    """A line of the M57 plan: the edition it was last seen in, and the edition that no
    longer has it (``retired_in``; blank while it is current). Never deleted: products and
    invoices name it."""

    code = models.CharField("code", max_length=10, unique=True)
    label = models.CharField("libellé", max_length=300)
    edition = models.CharField("édition", max_length=20)
    retired_in = models.CharField("retiré dans l'édition", max_length=20, blank=True)
    # The most detailed level: the only one an amount is imputed to.
    imputable = models.BooleanField("imputable", default=True)

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"


class Nature(PlanEntry):
    """A nature account (compte par nature): 7067 « Redevances et droits des services
    périscolaires et d'enseignement »…"""

    chapter = models.CharField("chapitre", max_length=3)

    class Meta(PlanEntry.Meta):
        verbose_name = "compte par nature"


class Fonction(PlanEntry):
    """A code of the functional presentation (fonction): 281 « Hébergement et restauration
    scolaires »…"""

    class Meta(PlanEntry.Meta):
        verbose_name = "fonction"


class HandoverState(models.TextChoices):
    SENT = "sent", "transmis, en attente de l'accusé de réception"
    ACCEPTED = "accepted", "accepté par le comptable"
    PARTLY = "partly", "accepté en partie"
    REJECTED = "rejected", "rejeté par le comptable"
    CANCELLED = "cancelled", "annulé"


class UnpaidHandover(models.Model):
    """A hand-over of unpaid invoices to the public accountant: one bordereau of titres de
    recettes (one titre per invoice) for a budget, numbered without gaps per budget and
    year, and the PES V2 « PES_Aller » file written for it (kept as written, with its
    SHA-256). Never rewritten."""

    budget = models.ForeignKey(Budget, on_delete=models.PROTECT, related_name="unpaid_handovers")
    regie = models.ForeignKey("regies.Regie", on_delete=models.PROTECT,
                              related_name="unpaid_handovers")
    year = models.PositiveSmallIntegerField("exercice")
    number = models.PositiveIntegerField("numéro de bordereau")
    due_before = models.DateField("échues avant le")
    count = models.PositiveIntegerField("titres")
    total = models.DecimalField("montant", max_digits=14, decimal_places=2)
    file_name = models.CharField(max_length=100)
    file = models.BinaryField("fichier PES")
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254)
    # What the public accountant answered (the PES_ACK files, ``PesAck``), or its
    # cancellation by the commune before any titre was accepted.
    state = models.CharField("état", max_length=10, choices=HandoverState.choices,
                             default=HandoverState.SENT, db_default=HandoverState.SENT)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=254, blank=True, db_default="")
    cancel_reason = models.CharField("motif d'annulation", max_length=300, blank=True,
                                     db_default="")

    class Meta:
        ordering = ["-year", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["budget", "year", "number"],
                                    name="handover_number_once"),
            models.CheckConstraint(condition=Q(total__gt=0), name="handover_total_positive"),
        ]

    def __str__(self) -> str:
        return f"Bordereau {self.number}/{self.year}"


class HandedOverInvoice(models.Model):
    """An invoice handed over (once: the invoice is unique here), the titre it became (its
    number in the bordereau) and what it still owed then. From then on the family pays
    the public accountant, not the régie."""

    handover = models.ForeignKey(UnpaidHandover, on_delete=models.PROTECT, related_name="items")
    invoice = models.OneToOneField("regies.Invoice", on_delete=models.PROTECT,
                                   related_name="handed_over")
    piece = models.PositiveIntegerField("numéro du titre")
    amount = models.DecimalField("reste dû transmis", max_digits=12, decimal_places=2)
    # When the accountant's acknowledgement accepted the titre (blank: not yet).
    accepted_at = models.DateTimeField("accepté le", null=True, blank=True)

    class Meta:
        ordering = ["handover", "piece"]
        constraints = [
            models.UniqueConstraint(fields=["handover", "piece"], name="handover_piece_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="handed_over_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.handover} titre {self.piece}"


class PesAck(models.Model):
    """An acknowledgement (PES_ACK) of a hand-over's file, as received (kept with its
    SHA-256: the same file imported again changes nothing), and what it decided."""

    handover = models.ForeignKey(UnpaidHandover, on_delete=models.PROTECT, related_name="acks")
    file_name = models.CharField(max_length=200)
    file = models.BinaryField("accusé PES_ACK")
    sha256 = models.CharField(max_length=64)
    accepted = models.PositiveIntegerField("titres acceptés")
    rejected = models.PositiveIntegerField("titres rejetés")
    received_at = models.DateTimeField(auto_now_add=True)
    received_by = models.CharField(max_length=254)

    class Meta:
        ordering = ["handover", "received_at"]
        constraints = [models.UniqueConstraint(fields=["handover", "sha256"],
                                               name="pes_ack_once")]

    def __str__(self) -> str:
        return f"Accusé {self.file_name}"


class ReleaseReason(models.TextChoices):
    REJECTED = "rejected", "rejeté par le comptable"
    CANCELLED = "cancelled", "bordereau annulé"


class ReleasedTitre(models.Model):
    """A titre that no longer stands: rejected by the accountant, or its bordereau
    cancelled. Its invoice is the régie's to collect again (payable at the counter and
    online, and may be handed over anew); this row keeps what was handed over and why it
    came back. Append-only."""

    handover = models.ForeignKey(UnpaidHandover, on_delete=models.PROTECT,
                                 related_name="released")
    invoice = models.ForeignKey("regies.Invoice", on_delete=models.PROTECT,
                                related_name="released_titres")
    piece = models.PositiveIntegerField("numéro du titre")
    amount = models.DecimalField("reste dû transmis", max_digits=12, decimal_places=2)
    why = models.CharField(max_length=10, choices=ReleaseReason.choices)
    reason = models.CharField("motif", max_length=500, blank=True)
    ack = models.ForeignKey(PesAck, null=True, blank=True, on_delete=models.PROTECT,
                            related_name="released")
    released_at = models.DateTimeField(auto_now_add=True)
    released_by = models.CharField(max_length=254)

    class Meta:
        ordering = ["handover", "piece"]
        constraints = [models.UniqueConstraint(fields=["handover", "piece"],
                                               name="released_piece_once")]

    def __str__(self) -> str:
        return f"{self.handover} titre {self.piece} ({self.get_why_display()})"


# --- Reminders (relances) of unpaid invoices: opsn.finance.reminders ------------------------

# Without a schedule of its own, a régie reminds 15 and 30 days after the due date.
DEFAULT_REMINDER_DELAYS = (15, 30)
MAX_REMINDER_LEVELS = 3
MAX_REMINDER_DELAY = 365


class ReminderSchedule(models.Model):
    """When a régie reminds the payers of its unpaid invoices: ``delays`` are the days
    after the due date of each reminder (first, second, third), strictly increasing. A
    régie without a row follows ``DEFAULT_REMINDER_DELAYS``."""

    regie = models.OneToOneField("regies.Regie", on_delete=models.PROTECT,
                                 related_name="reminder_schedule")
    enabled = models.BooleanField("relances actives", default=True)
    delays = ArrayField(models.PositiveSmallIntegerField(), verbose_name="délais (jours)")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254)

    class Meta:
        constraints = [models.CheckConstraint(
            condition=Q(delays__len__gte=1, delays__len__lte=MAX_REMINDER_LEVELS),
            name="reminder_levels")]

    def __str__(self) -> str:
        return f"Relances de la régie {self.regie_id} : {self.delays}"


class ReminderLetterBatch(models.Model):
    """The letters of one run of the reminders for one régie (payers without e-mail), as
    one PDF for the agents to print and post; ``printed_at`` once they say it is done."""

    regie = models.ForeignKey("regies.Regie", on_delete=models.PROTECT,
                              related_name="reminder_letter_batches")
    made_on = models.DateField("préparé le")
    count = models.PositiveIntegerField("courriers")
    file = models.BinaryField("courriers (PDF)")
    created_at = models.DateTimeField(auto_now_add=True)
    printed_at = models.DateTimeField(null=True, blank=True)
    printed_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Courriers de relance du {self.made_on:%d/%m/%Y} ({self.count})"


class ReminderChannel(models.TextChoices):
    EMAIL = "email", "courriel"
    LETTER = "letter", "courrier"


class ReminderStatus(models.TextChoices):
    SENT = "sent", "envoyée"
    FAILED = "failed", "échec de l'envoi"
    TO_PRINT = "to_print", "courrier à imprimer"


class InvoiceReminder(models.Model):
    """One reminder of an invoice at one level (1, 2, 3): at most one row per invoice and
    level, so the job run twice reminds once. An e-mail that failed keeps its error and is
    tried again by the next run (by letter after ``EMAIL_ATTEMPTS``)."""

    invoice = models.ForeignKey("regies.Invoice", on_delete=models.PROTECT,
                                related_name="reminders")
    level = models.PositiveSmallIntegerField("relance n°")
    channel = models.CharField("par", max_length=10, choices=ReminderChannel.choices)
    status = models.CharField("état", max_length=10, choices=ReminderStatus.choices)
    to = models.CharField("destinataire", max_length=254, blank=True)
    owed = models.DecimalField("reste dû relancé", max_digits=12, decimal_places=2)
    attempts = models.PositiveSmallIntegerField(default=1)
    error = models.CharField(max_length=500, blank=True)
    made_on = models.DateField("le")
    attempted_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    letters = models.ForeignKey(ReminderLetterBatch, null=True, blank=True,
                                on_delete=models.PROTECT, related_name="reminders")

    class Meta:
        ordering = ["invoice", "level"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "level"], name="reminder_once"),
            models.CheckConstraint(condition=Q(level__gte=1, level__lte=MAX_REMINDER_LEVELS),
                                   name="reminder_level_range"),
            models.CheckConstraint(condition=Q(owed__gt=0), name="reminder_owed_positive"),
            models.CheckConstraint(condition=~Q(channel="letter") | Q(letters__isnull=False),
                                   name="reminder_letter_batched"),
        ]

    def __str__(self) -> str:
        return f"Relance {self.level} de la facture {self.invoice_id}"


class InvoiceContest(models.Model):
    """An invoice the payer contests (a reclamation, a court case), marked by an agent with
    the reason: no reminder goes while it lasts. Lifted (never deleted) when settled."""

    invoice = models.ForeignKey("regies.Invoice", on_delete=models.PROTECT,
                                related_name="contests")
    reason = models.CharField("motif", max_length=300)
    contested_at = models.DateTimeField()
    contested_by = models.CharField(max_length=254)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.CharField(max_length=254, blank=True)
    lift_reason = models.CharField("issue", max_length=300, blank=True)

    class Meta:
        ordering = ["-contested_at"]
        constraints = [models.UniqueConstraint(fields=["invoice"],
                                               condition=Q(lifted_at__isnull=True),
                                               name="contest_open_once")]

    def __str__(self) -> str:
        return f"Contestation de la facture {self.invoice_id}"
