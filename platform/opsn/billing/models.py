"""Pricing rules, as the source documents write them.

Amounts are Decimal with two places in the database and integer cents in computations.
Which population a rule uses (municipale or totale, of which INSEE year), the operator's
share and the brackets are data of the rule, not constants in code.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from opsn.communes.models import Commune, Module
from opsn.kernel.calendar import jours_francs_deadline

ZERO = Decimal("0.00")


class PopulationKind(models.TextChoices):
    MUNICIPALE = "municipale", "population municipale"
    TOTALE = "totale", "population totale"


class PricingRule(models.Model):
    """How one application is priced for one year."""

    class Kind(models.TextChoices):
        PER_INHABITANT = "per_inhabitant", "au prorata des habitants"
        TIERS = "tiers", "forfait par strate de population"
        FLAT = "flat", "forfait par commune"
        FREE = "free", "gratuit"

    module = models.ForeignKey(Module, on_delete=models.PROTECT, related_name="pricing_rules")
    year = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # per inhabitant: the application's yearly global cost (Pappli) and the operator's own
    # share (Part3M), as an amount or as a fraction of the cost (0.5 = half).
    annual_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    operator_share_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True,
                                                blank=True)
    operator_share_fraction = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))])
    # flat: the amount each subscribed commune pays.
    flat_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    population_kind = models.CharField(max_length=10, choices=PopulationKind.choices,
                                       default=PopulationKind.MUNICIPALE)
    population_year = models.PositiveSmallIntegerField(null=True, blank=True)
    # tiers: a commune joining after others of its bracket pays double until its cumulative
    # contributions reach those of the members already there (RDV-Solidarités, seeds/002).
    newcomer_double = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["year", "module__position"]
        constraints = [
            models.UniqueConstraint(fields=["module", "year"], name="one_rule_per_module_year"),
            models.CheckConstraint(condition=Q(annual_cost__isnull=True) | Q(annual_cost__gte=0),
                                   name="rule_cost_not_negative"),
            models.CheckConstraint(condition=Q(operator_share_amount__isnull=True)
                                   | Q(operator_share_amount__gte=0),
                                   name="rule_operator_share_not_negative"),
            models.CheckConstraint(condition=Q(flat_amount__isnull=True) | Q(flat_amount__gte=0),
                                   name="rule_flat_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.module_id} {self.year} ({self.get_kind_display()})"


class PopulationBracket(models.Model):
    """One stratum of a ``tiers`` rule: communes with lower ≤ population < upper pay amount."""

    rule = models.ForeignKey(PricingRule, on_delete=models.CASCADE, related_name="brackets")
    lower = models.PositiveIntegerField()
    upper = models.PositiveIntegerField(null=True, blank=True, help_text="exclusive; empty: "
                                        "no upper bound")
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["rule", "lower"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="bracket_amount_not_negative"),
            models.CheckConstraint(condition=Q(upper__isnull=True) | Q(upper__gt=models.F("lower")),
                                   name="bracket_upper_above_lower"),
        ]

    def __str__(self) -> str:
        return f"[{self.lower}, {self.upper or '∞'}[ : {self.amount} €"


class Discount(models.Model):
    """A reduction for one commune and year (e.g. 50 % the first year for a pilot commune),
    on one application or on all of them."""

    commune = models.ForeignKey(Commune, on_delete=models.CASCADE, related_name="discounts")
    year = models.PositiveSmallIntegerField()
    module = models.ForeignKey(Module, null=True, blank=True, on_delete=models.PROTECT)
    percent = models.DecimalField(max_digits=5, decimal_places=2,
                                  validators=[MinValueValidator(Decimal(0)),
                                              MaxValueValidator(Decimal(100))])
    reason = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(percent__gte=0) & Q(percent__lte=100),
                                   name="discount_percent_0_100"),
        ]

    def __str__(self) -> str:
        return f"{self.commune_id} {self.year}: -{self.percent} %"


class Convention(models.Model):
    """The convention between the operator and one commune: its number, its term and the
    mentions its titres must carry (``billing.conventions``)."""

    commune = models.ForeignKey(Commune, on_delete=models.CASCADE, related_name="conventions")
    number = models.CharField(max_length=50)
    starts_on = models.DateField()
    ends_on = models.DateField()
    mentions = models.TextField(blank=True, default="",
                                help_text="what every titre of the convention must say")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["commune__name", "-starts_on"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")),
                                   name="convention_term_in_order"),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.starts_on:%d/%m/%Y} – {self.ends_on:%d/%m/%Y})"


class ConventionAmendment(models.Model):
    """An avenant to a convention: its date and its object."""

    convention = models.ForeignKey(Convention, on_delete=models.CASCADE,
                                   related_name="amendments")
    number = models.PositiveSmallIntegerField()
    signed_on = models.DateField()
    subject = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["convention", "number"]
        constraints = [
            models.UniqueConstraint(fields=["convention", "number"],
                                    name="one_amendment_number_per_convention"),
        ]

    def __str__(self) -> str:
        return f"avenant n° {self.number} du {self.signed_on:%d/%m/%Y}"


class ConventionCost(models.Model):
    """The yearly cost a convention fixes for one application: while the convention is in
    force it replaces the pricing rule for its commune; an amendment (``amendment``) sets a
    new cost from the billing year of its date (``applies_from``)."""

    convention = models.ForeignKey(Convention, on_delete=models.CASCADE, related_name="costs")
    module = models.ForeignKey(Module, on_delete=models.PROTECT, related_name="+")
    yearly_cost = models.DecimalField(max_digits=12, decimal_places=2)
    amendment = models.ForeignKey(ConventionAmendment, null=True, blank=True,
                                  on_delete=models.CASCADE, related_name="costs")
    applies_from = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["convention", "module", "applies_from"]
        constraints = [
            models.CheckConstraint(condition=Q(yearly_cost__gte=0),
                                   name="convention_cost_not_negative"),
            models.UniqueConstraint(fields=["convention", "module", "amendment"],
                                    nulls_distinct=False, name="one_cost_per_amendment"),
        ]

    def __str__(self) -> str:
        return f"{self.module_id} {self.yearly_cost} € dès le {self.applies_from:%d/%m/%Y}"


class InvoiceSequence(models.Model):
    """The operator's numbering of accounting documents for one year. Numbers are taken
    inside the issuing transaction with this row locked: no gap, no duplicate, even when
    two runs race."""

    year = models.PositiveSmallIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class BillingRun(models.Model):
    """The yearly run: once issued, a year cannot be issued again."""

    class Status(models.TextChoices):
        ISSUED = "issued", "émis"

    year = models.PositiveSmallIntegerField(unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ISSUED)
    issued_at = models.DateTimeField(auto_now_add=True)
    invoices = models.PositiveIntegerField(default=0)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    documents_done = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year} ({self.invoices} titres)"


class Invoice(models.Model):
    """A *titre de recette* from the operator to a commune (or a credit note cancelling one).

    Never edited: number, commune, amounts and lines are fixed by database triggers; only
    the status and its dates move. A correction is a credit note plus a new invoice.
    """

    class Kind(models.TextChoices):
        INVOICE = "invoice", "titre de recette"
        CREDIT_NOTE = "credit_note", "avoir"

    class Status(models.TextChoices):
        ISSUED = "issued", "émis"
        SENT = "sent", "transmis"
        CONTESTED = "contested", "contesté"
        CORRECTED = "corrected", "annulé et remplacé"
        PAID = "paid", "payé"

    number = models.CharField(max_length=20, unique=True)
    year = models.PositiveSmallIntegerField(db_index=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INVOICE)
    run = models.ForeignKey(BillingRun, null=True, blank=True, on_delete=models.PROTECT,
                            related_name="invoice_set")
    # The commune as it was when the invoice was issued: the registry row may go (offboarding)
    # while the invoice must be kept ten years.
    commune = models.ForeignKey(Commune, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="invoices")
    insee_code = models.CharField(max_length=5, db_index=True)
    commune_name = models.CharField(max_length=200)
    commune_siren = models.CharField(max_length=9, blank=True)
    # How Chorus Pro routes it (EN 16931 BT-46/47, BT-10, BT-13), as the registry said then.
    commune_siret = models.CharField(max_length=14, blank=True, default="")
    service_code = models.CharField(max_length=100, blank=True, default="")
    engagement_number = models.CharField(max_length=50, blank=True, default="")
    # Yearly contributions carry no VAT; services (custom work, training) do.
    total_excl_vat = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    vat_total = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    total = models.DecimalField(max_digits=14, decimal_places=2)  # VAT included
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ISSUED)
    issued_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)
    contested_at = models.DateTimeField(null=True, blank=True)
    contest_reason = models.TextField(blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="corrections")
    # Why a credit note and its replacement were issued (the operator's words), printed on
    # both; empty on the year's titres.
    correction_reason = models.TextField(blank=True, default="")
    # The convention it is issued under, as it read then (number, term, amendments and
    # the mentions it requires): printed on the titre and in its Factur-X XML.
    convention_number = models.CharField(max_length=50, blank=True, default="")
    convention_mentions = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["year", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "insee_code"], condition=Q(kind="invoice"),
                                    name="one_invoice_per_commune_per_run"),
            models.CheckConstraint(condition=Q(kind="credit_note", total__lte=0)
                                   | Q(kind="invoice", total__gte=0),
                                   name="invoice_sign_matches_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.commune_name} {self.total} €"

    @property
    def is_overdue(self) -> bool:
        return is_overdue(self)

    @property
    def contest_deadline(self):
        return contest_deadline(self)


class BillingEvent(models.Model):
    """One change the operator made to billing: a titre sent to Chorus Pro, corrected,
    paid… Who, when, what. Append-only (a database trigger refuses UPDATE and DELETE);
    the titre is named by its number, so the trail outlives nothing it describes."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    code = models.CharField(max_length=60, db_index=True)  # "invoice.corrected", …
    actor = models.CharField(max_length=254)  # the operator's account, or "api:<token>"
    invoice_number = models.CharField(max_length=20, blank=True, db_index=True)
    insee_code = models.CharField(max_length=5, blank=True, db_index=True)
    summary = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%d/%m/%Y %H:%M} {self.actor}: {self.summary}"


def billing_event(*, code: str, actor: str, summary: str, invoice: Invoice | None = None,
                  insee_code: str = "", **data) -> BillingEvent:
    """Record one change of billing in the operator's trail (inside the caller's
    transaction: it is kept only if the change is)."""
    return BillingEvent.objects.create(
        code=code, actor=(actor or "-")[:254], summary=summary[:500],
        invoice_number=invoice.number if invoice is not None else "",
        insee_code=invoice.insee_code if invoice is not None else insee_code[:5], data=data)


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField()
    module = models.ForeignKey(Module, null=True, blank=True, on_delete=models.PROTECT)
    label = models.CharField(max_length=200)
    rule_kind = models.CharField(max_length=20)
    population = models.PositiveIntegerField(null=True, blank=True)
    population_label = models.CharField(max_length=60, blank=True)
    explanation = models.TextField()
    amount_before_discount = models.DecimalField(max_digits=14, decimal_places=2)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True,
                                           blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    # Yearly contributions are net of VAT; custom work and training carry the normal rate.
    vat_rate = models.DecimalField(max_digits=4, decimal_places=2, default=ZERO)

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} #{self.position} {self.amount} €"


class SubscriptionRequest(models.Model):
    """A commune asks to add or remove an application, or to leave the convention.

    The convention's calendar: a change requested at least 3 months before the end of the
    year takes effect on 1 January of the next year; leaving takes effect on 1 January,
    with notice by 30 September of the year before. A late request is refused, unless the
    operator accepts it for the year after (it is then recorded as late).
    """

    class Action(models.TextChoices):
        ADD = "add", "ajout d'une application"
        REMOVE = "remove", "retrait d'une application"
        LEAVE = "leave", "résiliation de la convention"

    commune = models.ForeignKey(Commune, on_delete=models.CASCADE,
                                related_name="subscription_requests")
    module = models.ForeignKey(Module, null=True, blank=True, on_delete=models.PROTECT)
    action = models.CharField(max_length=10, choices=Action.choices)
    class Status(models.TextChoices):
        PENDING = "pending", "en attente de l'opérateur"
        ACCEPTED = "accepted", "acceptée"
        REFUSED = "refused", "refusée"

    requested_on = models.DateField()
    deadline = models.DateField()
    effective_on = models.DateField()
    late = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Asked from the commune's space: pending until the operator accepts or refuses it,
    # with a message. Typed by the operator (``opsn billing_subscription``): accepted.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACCEPTED)
    requested_by = models.CharField(max_length=254, blank=True, default="")
    note = models.CharField(max_length=500, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=254, blank=True, default="")
    decision_message = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-requested_on", "commune__name"]
        constraints = [
            models.CheckConstraint(condition=Q(action="leave") | Q(module__isnull=False),
                                   name="subscription_request_names_a_module"),
        ]

    def __str__(self) -> str:
        return f"{self.commune_id} {self.get_action_display()} {self.module_id or ''}"

    def describe(self) -> str:
        """« ajout d'une application : Espace citoyen, effet le 01/01/2027 (en retard…) »."""
        what = self.get_action_display()
        if self.module is not None:
            what += f" : {self.module.name}"
        what += f", effet le {self.effective_on:%d/%m/%Y}"
        if self.late:
            what += f" (reçue après la date limite du {self.deadline:%d/%m/%Y})"
        return what


class ServiceCharge(models.Model):
    """A one-off service for one commune (custom work, training), billed with VAT at the
    normal rate on the commune's invoice of the year, as a separate line."""

    commune = models.ForeignKey(Commune, on_delete=models.PROTECT, related_name="service_charges")
    year = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=200)
    amount_excl_vat = models.DecimalField(max_digits=12, decimal_places=2)
    vat_rate = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("20.00"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["year", "commune__name"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_excl_vat__gt=0),
                                   name="service_charge_positive"),
            models.CheckConstraint(condition=Q(vat_rate__gte=0) & Q(vat_rate__lt=100),
                                   name="service_charge_vat_rate"),
        ]

    def __str__(self) -> str:
        return f"{self.commune_id} {self.year} {self.label} {self.amount_excl_vat} € HT"


class BillingJob(models.Model):
    """The yearly run as a background job: what the operator watches after clicking."""

    class Status(models.TextChoices):
        QUEUED = "queued", "en attente"
        RUNNING = "running", "en cours"
        DONE = "done", "terminé"
        FAILED = "failed", "échoué, rien n'a été émis"

    year = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    step = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    run = models.ForeignKey(BillingRun, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.year} {self.get_status_display()}"


def received_on(invoice: Invoice) -> datetime.date | None:
    """The day the commune is deemed to receive the titre: the day after it was sent by
    default (``OPSN_INVOICE_RECEIPT_DAYS``)."""
    if invoice.sent_at is None:
        return None
    return (timezone.localtime(invoice.sent_at).date()
            + datetime.timedelta(days=settings.OPSN_INVOICE_RECEIPT_DAYS))


def contest_deadline(invoice: Invoice) -> datetime.date | None:
    """The last day the commune may contest: ``OPSN_INVOICE_CONTEST_DAYS`` jours francs
    after receipt (convention of Montpellier Méditerranée Métropole), moved past weekends
    and public holidays."""
    received = received_on(invoice)
    if received is None:
        return None
    return jours_francs_deadline(received, settings.OPSN_INVOICE_CONTEST_DAYS)


def is_overdue(invoice: Invoice, today: datetime.date | None = None) -> bool:
    today = today or timezone.localdate()
    return (invoice.status == Invoice.Status.SENT and invoice.due_on is not None
            and today > invoice.due_on)


def sending_reminder(today: datetime.date | None = None) -> str | None:
    """From 1 September, while the year's titres are not issued and sent: they must reach
    the communes through Chorus Pro by 30 September (convention of Montpellier Méditerranée
    Métropole). None when there is nothing to say."""
    today = today or timezone.localdate()
    year = today.year
    deadline = datetime.date(year, *settings.OPSN_INVOICE_SENDING_DEADLINE)
    if today < deadline.replace(day=1):
        return None
    late = today > deadline
    if not BillingRun.objects.filter(year=year).exists():
        if late:
            return (f"Les titres {year} devaient partir par Chorus Pro au plus tard le "
                    f"{deadline:%d/%m/%Y} : ils ne sont toujours pas émis.")
        days = (deadline - today).days
        left = "c'est aujourd'hui le dernier jour" if not days else (
            f"il reste {days} jour{'s' if days > 1 else ''}")
        return (f"Les titres {year} doivent partir par Chorus Pro au plus tard le "
                f"{deadline:%d/%m/%Y} ({left}) : ils ne sont pas encore émis.")
    unsent = Invoice.objects.filter(year=year, kind=Invoice.Kind.INVOICE,
                                    status=Invoice.Status.ISSUED).count()
    if not unsent:
        return None
    titles = f"{unsent} titre{'s' if unsent > 1 else ''} {year} émis"
    if late:
        return (f"{titles} mais pas transmis : ils devaient partir par Chorus Pro au plus "
                f"tard le {deadline:%d/%m/%Y}.")
    return (f"{titles} mais pas encore transmis : ils doivent partir par Chorus Pro au plus "
            f"tard le {deadline:%d/%m/%Y}.")
