"""Who pays (families, associations, individuals) and what they are asked to pay."""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Case, F, Func, IntegerField, Q, Value, When
from django.db.models.functions import Upper

from opsn.regies.models.founding import Product, Regie


class PayerKind(models.TextChoices):
    FAMILY = "family", "famille"
    INDIVIDUAL = "individual", "particulier"
    ASSOCIATION = "association", "association"
    ORGANISATION = "organisation", "entreprise ou organisme"


class Payer(models.Model):
    """A payer (redevable) of a régie. The link code, printed on every invoice, lets the
    citizen attach this record to their account."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="payers")
    kind = models.CharField("type", max_length=12, choices=PayerKind.choices,
                            default=PayerKind.FAMILY)
    name = models.CharField("nom", max_length=200)
    address_line = models.CharField("adresse", max_length=250, blank=True)
    postal_code = models.CharField("code postal", max_length=10, blank=True)
    city = models.CharField("commune", max_length=120, blank=True)
    email = models.EmailField("courriel", blank=True)
    phone = models.CharField("téléphone", max_length=30, blank=True)
    external_ref = models.CharField("référence dans le logiciel métier", max_length=60,
                                    blank=True)
    link_code = models.CharField("code de rattachement", max_length=14, unique=True)
    # New invoices go by e-mail to ``email`` unless the payer said no.
    invoices_by_email = models.BooleanField("factures par courriel", default=True,
                                            db_default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["regie", "external_ref"],
                                    condition=~Q(external_ref=""),
                                    name="payer_external_ref_once"),
        ]
        indexes = [models.Index(Upper("name"), name="payer_name_upper")]

    def __str__(self) -> str:
        return self.name


class InvoiceStatus(models.TextChoices):
    DUE = "due", "à payer"
    PARTLY_PAID = "partly_paid", "payée en partie"
    PAID = "paid", "payée"
    CANCELLED = "cancelled", "annulée"


class InvoiceSource(models.TextChoices):
    AGENT = "agent", "saisie par un agent"
    IMPORT = "import", "import CSV"
    API = "api", "API"


# How late an unpaid invoice is, in days past its due date: the buckets of « what is owed »
# (key, label, first day, last day or None).
AGE_BUCKETS = (("0-30", "0 à 30 jours", 1, 30), ("31-60", "31 à 60 jours", 31, 60),
               ("61-90", "61 à 90 jours", 61, 90), ("90+", "plus de 90 jours", 91, None))
OWED_STATUSES = (InvoiceStatus.DUE, InvoiceStatus.PARTLY_PAID)


class InvoiceQuerySet(models.QuerySet):
    def past_due(self, on: datetime.date) -> InvoiceQuerySet:
        """« What is owed » on ``on``: the invoices still to pay (due, or partly paid) whose
        due date has passed, each with ``days_late`` (days past the due date: 1 the day
        after), ``bucket`` (the key of its ``AGE_BUCKETS``) and ``owed`` (what is left to
        pay). The rule's one home: the page, its exports and the API read it here."""
        days = Func(Value(on), F("due_on"), template="(%(expressions)s)", arg_joiner=" - ",
                    output_field=IntegerField())
        return (self.filter(status__in=OWED_STATUSES, due_on__lt=on)
                .annotate(days_late=days, owed=F("total") - F("amount_paid"))
                .annotate(bucket=Case(
                    *[When(days_late__lte=last, then=Value(key))
                      for key, _, _, last in AGE_BUCKETS if last is not None],
                    default=Value(AGE_BUCKETS[-1][0]),
                    output_field=models.CharField())))


class Invoice(models.Model):
    """An invoice to a payer. Its number, payer, date and lines are never rewritten
    (database trigger): a mistake is cancelled and a new invoice issued. ``amount_paid``
    is kept by the database from the allocations; ``status`` is computed from it."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="invoices")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField("numéro", max_length=30, unique=True)
    label = models.CharField("objet", max_length=200, blank=True)
    issued_on = models.DateField("émise le")
    due_on = models.DateField("à payer avant le")
    total = models.DecimalField("montant", max_digits=12, decimal_places=2)
    amount_paid = models.DecimalField("payé", max_digits=12, decimal_places=2, default=0,
                                      editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=254, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    status = models.GeneratedField(
        expression=Case(
            When(cancelled_at__isnull=False, then=Value(InvoiceStatus.CANCELLED.value)),
            When(amount_paid__gte=F("total"), then=Value(InvoiceStatus.PAID.value)),
            When(amount_paid__gt=0, then=Value(InvoiceStatus.PARTLY_PAID.value)),
            default=Value(InvoiceStatus.DUE.value)),
        output_field=models.CharField(max_length=12, choices=InvoiceStatus.choices),
        db_persist=True)
    source = models.CharField(max_length=10, choices=InvoiceSource.choices,
                              default=InvoiceSource.AGENT)
    import_batch = models.ForeignKey("regies.ImportBatch", null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="invoices")
    created_by = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_on", "number"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0), name="invoice_total_positive"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0, amount_paid__lte=F("total")),
                                   name="invoice_not_overpaid"),
            models.CheckConstraint(condition=Q(due_on__gte=F("issued_on")),
                                   name="invoice_due_after_issue"),
        ]
        indexes = [models.Index(fields=["payer", "status"], name="invoice_payer_status")]

    def __str__(self) -> str:
        return f"Facture {self.number}"

    @property
    def remaining(self):
        return self.total - self.amount_paid


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT)
    label = models.CharField("libellé", max_length=200)
    quantity = models.DecimalField("quantité", max_digits=10, decimal_places=3)
    unit_price = models.DecimalField("prix unitaire", max_digits=12, decimal_places=2)
    amount = models.DecimalField("montant", max_digits=12, decimal_places=2)
    period_start = models.DateField("période du", null=True, blank=True)
    period_end = models.DateField("au", null=True, blank=True)
    beneficiary = models.CharField("bénéficiaire", max_length=200, blank=True)
    # The M57 imputation the line was issued with (its product's, or the régie's default),
    # copied at issue and never rewritten: a later change of the product does not move
    # what was invoiced. Blank: not imputed (the database's default too, for a line written
    # by plain SQL).
    nature = models.CharField("compte par nature", max_length=10, blank=True, db_default="")
    fonction = models.CharField("fonction", max_length=10, blank=True, db_default="")

    class Meta:
        ordering = ["invoice", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="line_price"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="line_amount"),
            models.CheckConstraint(condition=Q(period_end__isnull=True)
                                   | Q(period_start__isnull=True)
                                   | Q(period_end__gte=F("period_start")),
                                   name="line_period_in_order"),
        ]

    def __str__(self) -> str:
        return self.label
