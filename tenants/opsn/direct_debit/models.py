"""SEPA direct debit on the régie's account at the Treasury (DFT): the régie as creditor,
the payers' mandates, and the collection files (pain.008) with their lines.

What follows this first slice (booking when the bank confirms, returns, pre-notification,
the citizen's electronic signature) builds on these: a line has a status that booking and
returns will move; a mandate knows how it was signed (``source``)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from opsn.direct_debit.banking import mask_iban
from opsn.regies.models import Invoice, LedgerEntry, Payer, Regie


class Creditor(models.Model):
    """A régie as a SEPA creditor: its creditor identifier (ICS) and its account at the
    Treasury (DFT) where debits are credited."""

    regie = models.OneToOneField(Regie, on_delete=models.PROTECT, related_name="creditor")
    ics = models.CharField("identifiant créancier SEPA (ICS)", max_length=13)
    name = models.CharField("nom du créancier", max_length=70)
    iban = models.CharField("IBAN du compte DFT", max_length=34)
    bic = models.CharField("BIC", max_length=11)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.ics})"

    @property
    def iban_masked(self) -> str:
        return mask_iban(self.iban)


class MandateKind(models.TextChoices):
    RECURRENT = "recurrent", "récurrent"
    ONE_OFF = "one_off", "ponctuel"


class MandateStatus(models.TextChoices):
    ACTIVE = "active", "actif"
    REVOKED = "revoked", "révoqué"
    LAPSED = "lapsed", "caduc (36 mois sans prélèvement)"
    SUSPENDED = "suspended", "suspendu (deux prélèvements rejetés)"


class MandateSource(models.TextChoices):
    PAPER = "paper", "mandat papier saisi par un agent"
    API = "api", "logiciel métier (API)"
    ONLINE = "online", "signé en ligne"


class Mandate(models.Model):
    """A payer's mandate. Its reference (RUM) never changes: a new IBAN is an amendment,
    and the next collection carries the amendment indicator with the original account
    (same bank) or « SMNDA » (another bank, then sequence FRST)."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="mandates")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="mandates")
    rum = models.CharField("référence unique du mandat (RUM)", max_length=35, unique=True)
    debtor_name = models.CharField("nom du débiteur", max_length=70)
    iban = models.CharField("IBAN", max_length=34)
    bic = models.CharField("BIC", max_length=11)
    signed_on = models.DateField("signé le")
    kind = models.CharField("type", max_length=10, choices=MandateKind.choices,
                            default=MandateKind.RECURRENT)
    status = models.CharField("état", max_length=10, choices=MandateStatus.choices,
                              default=MandateStatus.ACTIVE)
    source = models.CharField(max_length=10, choices=MandateSource.choices,
                              default=MandateSource.PAPER)
    # The amendment the next collection must carry (cleared once it has): the account
    # (and bank) before the change.
    amended_on = models.DateField("modifié le", null=True, blank=True)
    original_iban = models.CharField(max_length=34, blank=True)
    original_bic = models.CharField(max_length=11, blank=True)
    amendment_pending = models.BooleanField(default=False)
    last_collected_on = models.DateField("dernier prélèvement", null=True, blank=True)
    ended_on = models.DateField("révoqué ou caduc le", null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)
    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["payer", "-signed_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(status="active", ended_on__isnull=True)
                                   | (~Q(status="active") & Q(ended_on__isnull=False)),
                                   name="mandate_ended_when_not_active"),
        ]
        indexes = [models.Index(fields=["regie", "status"], name="mandate_regie_status")]

    def __str__(self) -> str:
        return f"Mandat {self.rum}"

    @property
    def iban_masked(self) -> str:
        return mask_iban(self.iban)


class SequenceType(models.TextChoices):
    FIRST = "FRST", "premier prélèvement"
    RECURRENT = "RCUR", "prélèvement récurrent"
    ONE_OFF = "OOFF", "prélèvement ponctuel"


class Collection(models.Model):
    """A collection file (pain.008.001.02) for a régie and a collection date, kept as it
    was handed to the bank, with its totals."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="collections")
    collection_date = models.DateField("date d'échéance")
    message_id = models.CharField(max_length=35, unique=True)
    # The creditor as the file names it (a later change of the régie's account does not
    # rewrite what was sent).
    ics = models.CharField(max_length=13)
    iban = models.CharField(max_length=34)
    bic = models.CharField(max_length=11)
    count = models.PositiveIntegerField("nombre de prélèvements", default=0)
    total = models.DecimalField("montant total", max_digits=14, decimal_places=2, default=0)
    xml = models.TextField("fichier pain.008", blank=True)
    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-collection_date", "-id"]

    def __str__(self) -> str:
        return f"Remise {self.message_id} du {self.collection_date:%d/%m/%Y}"


class LineStatus(models.TextChoices):
    SENT = "sent", "remis à la banque"
    BOOKED = "booked", "encaissé"        # when the bank confirms (next slice)
    RETURNED = "returned", "rejeté ou retourné"  # camt.054 (next slice)


class CollectionLine(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="lines")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT,
                                related_name="debit_lines")
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="lines")
    amount = models.DecimalField("montant", max_digits=12, decimal_places=2)
    sequence_type = models.CharField(max_length=4, choices=SequenceType.choices)
    end_to_end_id = models.CharField(max_length=35, unique=True)
    iban = models.CharField(max_length=34)  # the account debited, as sent
    amended = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=LineStatus.choices,
                              default=LineStatus.SENT)

    class Meta:
        ordering = ["collection", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="debit_line_positive"),
            # An invoice is in one live debit at most: never collected twice.
            models.UniqueConstraint(fields=["invoice"], condition=~Q(status="returned"),
                                    name="debit_line_invoice_once"),
        ]

    def __str__(self) -> str:
        return f"Prélèvement {self.end_to_end_id}"

    @property
    def iban_masked(self) -> str:
        return mask_iban(self.iban)


class MandateSignature(models.Model):
    """How a mandate signed online was signed: when, by whom (the citizen's account, as
    the audit log names it, and the address the request came from), the wording they
    accepted, and the PDF of the signed mandate they were given, kept as it was."""

    mandate = models.OneToOneField(Mandate, on_delete=models.PROTECT,
                                   related_name="signature")
    signed_at = models.DateTimeField("signé le")
    signer = models.CharField("signataire", max_length=254)
    ip = models.GenericIPAddressField(null=True, blank=True)
    wording = models.TextField("texte du mandat accepté")
    pdf = models.BinaryField("mandat signé (PDF)")

    def __str__(self) -> str:
        return f"Signature en ligne du mandat {self.mandate.rum}"
# --- Booking, returns, pre-notification (the second slice) ----------------------------

class Confirmation(models.Model):
    """The bank confirmed a collection: its debits are in the régie's journal (one entry
    each, reference ``sepa:<end-to-end id>``), dated to the day the money arrived. Once per
    collection: a replayed confirmation is refused."""

    collection = models.OneToOneField(Collection, on_delete=models.PROTECT,
                                      related_name="confirmation")
    credited_on = models.DateField("crédité le")
    count = models.PositiveIntegerField("prélèvements encaissés")
    total = models.DecimalField("montant encaissé", max_digits=14, decimal_places=2)
    to_credit = models.PositiveIntegerField("prélèvements allés à l'avoir", default=0)
    first_receipt = models.CharField(max_length=20, blank=True)
    last_receipt = models.CharField(max_length=20, blank=True)
    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Confirmation de {self.collection}"


class ReturnFile(models.Model):
    """A bank's return report (camt.054) as imported, once: its fingerprint is unique, so a
    file imported again changes nothing."""

    sha256 = models.CharField(max_length=64, unique=True)
    file_name = models.CharField(max_length=255)
    message_id = models.CharField(max_length=35, blank=True)
    version = models.CharField(max_length=20)
    returned = models.PositiveIntegerField(default=0)
    ignored = models.JSONField(default=list, blank=True)  # [{line, reference, why}]
    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Retours {self.file_name} ({self.created_at:%d/%m/%Y})"


class DebitReturn(models.Model):
    """A debit the debtor's bank returned or rejected (R-transaction), once per debit: its
    reason, the reversal of its payment in the journal (none when it was rejected before
    the bank confirmed the collection), and who was told."""

    line = models.OneToOneField(CollectionLine, on_delete=models.PROTECT,
                                related_name="debit_return")
    file = models.ForeignKey(ReturnFile, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="returns")
    reversal = models.OneToOneField(LedgerEntry, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="debit_return")
    reason_code = models.CharField("code motif", max_length=4)
    reason_label = models.CharField("motif", max_length=200)
    returned_on = models.DateField("retourné le")
    family_notified_at = models.DateTimeField(null=True, blank=True)
    keepers_notified_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-returned_on", "-id"]

    def __str__(self) -> str:
        return f"Retour {self.reason_code} de {self.line}"


class NoticeStatus(models.TextChoices):
    PENDING = "pending", "à envoyer"
    SENT = "sent", "envoyée"
    NO_ADDRESS = "no_address", "pas d'adresse électronique"
    FAILED = "failed", "échec de l'envoi"


class PreNotification(models.Model):
    """The notice a family receives before its account is debited (SEPA rulebook: 14 days
    before unless agreed otherwise): amount, date, RUM and the creditor's ICS. Sent once;
    each invoice is announced once (``PreNotifiedInvoice``)."""

    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT,
                                related_name="prenotifications")
    debit_on = models.DateField("prélevé à partir du")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    rum = models.CharField(max_length=35)
    ics = models.CharField(max_length=13)
    email = models.CharField(max_length=254, blank=True)
    status = models.CharField(max_length=12, choices=NoticeStatus.choices,
                              default=NoticeStatus.PENDING)
    error = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-debit_on", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0),
                                              name="prenotification_positive")]
        indexes = [models.Index(fields=["status"], name="prenotification_status")]

    def __str__(self) -> str:
        return f"Pré-notification {self.rum} du {self.debit_on:%d/%m/%Y}"


class PreNotifiedInvoice(models.Model):
    notice = models.ForeignKey(PreNotification, on_delete=models.PROTECT,
                               related_name="items")
    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT,
                                   related_name="debit_prenotice")
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.notice} : {self.invoice}"
