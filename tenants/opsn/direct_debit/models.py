"""SEPA direct debit on the régie's account at the Treasury (DFT): the régie as creditor,
the payers' mandates, and the collection files (pain.008) with their lines.

What follows this first slice (booking when the bank confirms, returns, pre-notification,
the citizen's electronic signature) builds on these: a line has a status that booking and
returns will move; a mandate knows how it was signed (``source``)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from opsn.direct_debit.banking import mask_iban
from opsn.regies.models import Invoice, Payer, Regie


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
