"""A régie as its founding act (acte constitutif) defines it, what it collects, and who
collects for it."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumError


class PaymentMode(models.TextChoices):
    CASH = "cash", "espèces"
    CHEQUE = "cheque", "chèque"
    CARD = "card", "carte bancaire (TPE)"
    TRANSFER = "transfer", "virement"
    DIRECT_DEBIT = "direct_debit", "prélèvement SEPA"
    ONLINE = "online", "paiement en ligne (PayFiP)"
    OTHER = "other", "autre"


# Funds the régisseur holds in hand until they are deposited: they count toward the
# maximum cash (encaisse). Card, transfer, debit and online payments reach the régie's
# account at the Treasury directly.
HELD_MODES = (PaymentMode.CASH, PaymentMode.CHEQUE)
# What the counter's daily closing (arrêté de caisse) covers: the drawer, what is handed
# over at the counter and counted there — cash, cheques, card slips, and the other means
# an agent notes by hand. A closed day takes no more of these.
DRAWER_MODES = (PaymentMode.CASH, PaymentMode.CHEQUE, PaymentMode.CARD, PaymentMode.OTHER)
# Money that reaches the régie's account at the Treasury (DFT) by itself, whatever the
# counter did: never refused for a closed day, it is dated to the next open day.
ACCOUNT_MODES = (PaymentMode.TRANSFER, PaymentMode.DIRECT_DEBIT, PaymentMode.ONLINE)


def validate_iban(value: str) -> None:
    try:
        stdnum_iban.validate(value)
    except StdnumError as exc:
        raise ValidationError("IBAN invalide : vérifiez les caractères et la clé (exemple : "
                              "FR76 3000 1007 9412 3456 7890 185).", code="invalid_iban") from exc


class Regie(models.Model):
    """A régie de recettes, as its founding act (acte constitutif) defines it."""

    number = models.CharField("numéro", max_length=20, unique=True)
    name = models.CharField("nom", max_length=200)
    founding_act = models.CharField("acte constitutif", max_length=200, blank=True,
                                    help_text="par exemple : arrêté n° 2024-118 du 3 mai 2024")
    accepted_modes = ArrayField(models.CharField(max_length=20, choices=PaymentMode.choices),
                                verbose_name="modes d'encaissement")
    cash_limit = models.DecimalField("encaisse maximale", max_digits=12, decimal_places=2)
    cash_float = models.DecimalField("fonds de caisse", max_digits=12, decimal_places=2,
                                     default=Decimal("0.00"))
    deposit_period_days = models.PositiveSmallIntegerField("périodicité des versements (jours)",
                                                           default=30)
    accountant = models.CharField("comptable public assignataire", max_length=200, blank=True)
    # What the invoices print under « how to pay »: the account at the Treasury (DFT)
    # that takes transfers, kept compact (no spaces), and the counter's opening hours.
    iban = models.CharField("IBAN du compte de la régie", max_length=34, blank=True,
                            db_default="", validators=[validate_iban])
    counter_hours = models.CharField("horaires du guichet", max_length=200, blank=True,
                                     db_default="")
    starts_on = models.DateField("ouverte le")
    ends_on = models.DateField("fermée le", null=True, blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="absorbed", verbose_name="fusionnée dans")
    # The budget the régie collects for (empty: the commune's principal budget), and the
    # imputation of what it sells when a product has none of its own (M57).
    budget = models.ForeignKey("finance.Budget", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="regies",
                               verbose_name="budget")
    nature = models.ForeignKey("finance.Nature", to_field="code", db_column="nature",
                               null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name="compte par nature par défaut")
    fonction = models.ForeignKey("finance.Fonction", to_field="code", db_column="fonction",
                                 null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", verbose_name="fonction par défaut")

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(condition=Q(cash_limit__gte=0), name="regie_cash_limit"),
            models.CheckConstraint(condition=Q(cash_float__gte=0), name="regie_cash_float"),
            models.CheckConstraint(condition=Q(deposit_period_days__gte=1,
                                               deposit_period_days__lte=31),
                                   name="regie_deposit_at_least_monthly"),
            models.CheckConstraint(condition=Q(ends_on__isnull=True)
                                   | Q(ends_on__gt=models.F("starts_on")),
                                   name="regie_period_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    def is_open_on(self, day) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day < self.ends_on)


class Product(models.Model):
    """What the founding act allows the régie to collect, with its price."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="products")
    code = models.SlugField("code", max_length=30)
    name = models.CharField("libellé", max_length=200)
    unit_price = models.DecimalField("prix unitaire", max_digits=12, decimal_places=2)
    is_active = models.BooleanField("proposé", default=True)
    # M57 imputation; empty: the régie's default.
    nature = models.ForeignKey("finance.Nature", to_field="code", db_column="nature",
                               null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name="compte par nature")
    fonction = models.ForeignKey("finance.Fonction", to_field="code", db_column="fonction",
                                 null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", verbose_name="fonction")

    class Meta:
        ordering = ["regie", "name"]
        constraints = [
            models.UniqueConstraint(fields=["regie", "code"], name="product_code_once"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="product_price"),
        ]

    def __str__(self) -> str:
        return self.name


class AssignmentRole(models.TextChoices):
    TITULAIRE = "titulaire", "régisseur titulaire"
    SUPPLEANT = "suppleant", "mandataire suppléant"
    MANDATAIRE = "mandataire", "mandataire"


class AssignmentQuerySet(models.QuerySet):
    def appointed_on(self, day) -> AssignmentQuerySet:
        """« Appointed to the régie on ``day`` »: the assignments in force that day,
        [starts_on, ends_on[, whatever the role. The rule's one Python home; SQL's is
        ``regies_appointed_on`` (regies/sql/), and a test checks that the two agree."""
        return self.filter(Q(starts_on__lte=day), Q(ends_on__isnull=True) | Q(ends_on__gt=day))


class Assignment(models.Model):
    """An agent (a named individual account, or a service credential of the commune's
    business software) collects for a régie during [starts_on, ends_on[."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="assignments")
    account = models.CharField("compte", max_length=254)
    role = models.CharField("rôle", max_length=12, choices=AssignmentRole.choices)
    starts_on = models.DateField("depuis le")
    ends_on = models.DateField("jusqu'au", null=True, blank=True)
    granted_by = models.CharField(max_length=254)
    granted_at = models.DateTimeField(auto_now_add=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["regie", "role", "account", "starts_on"]
        constraints = [
            # One titulaire at a time; the hand-over (remise de service) ends one and starts
            # the next on the same day.
            models.UniqueConstraint(fields=["regie"], condition=Q(role="titulaire",
                                                                  ends_on__isnull=True),
                                    name="one_open_titulaire"),
            models.UniqueConstraint(fields=["regie", "account"], condition=Q(ends_on__isnull=True),
                                    name="one_open_assignment_per_account"),
            models.CheckConstraint(condition=Q(ends_on__isnull=True)
                                   | Q(ends_on__gt=models.F("starts_on")),
                                   name="assignment_period_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.get_role_display()} de {self.regie_id}"



class Handover(models.Model):
    """Remise de service: one titulaire hands the régie to the next, on a date, with the
    funds held counted. Never changed afterwards."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="handovers")
    on = models.DateField("date de la remise")
    outgoing = models.CharField("titulaire sortant", max_length=254, blank=True)
    incoming = models.CharField("titulaire entrant", max_length=254)
    held = models.JSONField("fonds détenus par mode", default=dict)
    notes = models.TextField("observations", blank=True)
    recorded_by = models.CharField(max_length=254)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["regie", "on", "id"]

    def __str__(self) -> str:
        return f"{self.regie_id} {self.on}: {self.outgoing} → {self.incoming}"


class StandInQuerySet(models.QuerySet):
    def covering(self, day) -> StandInQuerySet:
        """The stand-ins that cover ``day``: [starts_on, ends_on], both days included."""
        return self.filter(starts_on__lte=day, ends_on__gte=day)


class StandIn(models.Model):
    """The mandataire suppléant stands in for the absent titulaire during [starts_on,
    ends_on]: meanwhile they may close the day and deposit."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="stand_ins")
    account = models.CharField("suppléant", max_length=254)
    starts_on = models.DateField("du")
    ends_on = models.DateField("au (inclus)")
    reason = models.CharField("motif", max_length=200, blank=True)
    recorded_by = models.CharField(max_length=254)
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = StandInQuerySet.as_manager()

    class Meta:
        ordering = ["regie", "-starts_on"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")),
                                   name="stand_in_period_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.account} remplace le titulaire de {self.regie_id} du {self.starts_on}"


class RegieMerge(models.Model):
    """Fusion / centralisation: ``absorbed`` closed into ``surviving``, what moved."""

    absorbed = models.OneToOneField(Regie, on_delete=models.PROTECT, related_name="merge")
    surviving = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="merges_in")
    on = models.DateField()
    moved = models.JSONField(default=dict)  # products, payers, invoices, assignments
    merged_by = models.CharField(max_length=254)
    merged_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.absorbed_id} → {self.surviving_id} le {self.on}"
