"""A régie's PayFiP account and the online payments started on it (commune schema)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Environment(models.TextChoices):
    """PayFiP's ``saisie``: what the DGFiP does with the payment."""

    TEST = "T", "test"
    ACTIVATION = "X", "activation"
    PRODUCTION = "W", "production"


class PayfipAccount(models.Model):
    """The régie's contract with PayFiP: its client number (``numcli``, 6 digits, given by
    the DGFiP) and the environment it is in."""

    regie = models.OneToOneField("regies.Regie", on_delete=models.PROTECT,
                                 related_name="payfip_account")
    numcli = models.CharField("numéro client PayFiP", max_length=6)
    environment = models.CharField("environnement", max_length=1, choices=Environment.choices,
                                   default=Environment.TEST)
    enabled = models.BooleanField("paiement en ligne ouvert", default=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(numcli__regex=r"^[0-9]{6}$"),
                                   name="payfip_numcli_six_digits"),
        ]

    def __str__(self) -> str:
        return f"PayFiP {self.numcli} ({self.get_environment_display()})"


class PaymentState(models.TextChoices):
    CREATED = "created", "en attente du résultat"
    PAID = "paid", "payé"
    REFUSED = "refused", "refusé"
    CANCELLED = "cancelled", "abandonné"
    EXPIRED = "expired", "expiré"
    ANOMALY = "anomaly", "anomalie (non enregistré)"


FINAL_STATES = (PaymentState.PAID, PaymentState.REFUSED, PaymentState.CANCELLED,
                PaymentState.ANOMALY)


class OnlinePayment(models.Model):
    """One payment started by a citizen: what we asked PayFiP (amount in cents, computed
    here from what the invoice still owes), the operation id it gave, and the result it
    gives back. A payment that succeeded is recorded once in the régie's journal
    (``entry``: unique, and the entry's own reference is unique in the journal)."""

    regie = models.ForeignKey("regies.Regie", on_delete=models.PROTECT,
                              related_name="online_payments")
    invoice = models.ForeignKey("regies.Invoice", on_delete=models.PROTECT,
                                related_name="online_payments")
    payer = models.ForeignKey("regies.Payer", on_delete=models.PROTECT,
                              related_name="online_payments")
    idop = models.CharField("identifiant de l'opération", max_length=64, null=True,
                            blank=True, unique=True)
    numcli = models.CharField(max_length=6)
    environment = models.CharField(max_length=1, choices=Environment.choices)
    exer = models.PositiveSmallIntegerField("exercice")
    refdet = models.CharField("référence de la dette", max_length=30)
    amount_cents = models.PositiveIntegerField("montant (centimes)")
    email = models.EmailField("adresse électronique du payeur")
    started_by = models.CharField(max_length=64)  # who started it (a hashed subject)
    # Started on the commune's site without an account (« Payer une facture »: the invoice
    # number and its code); ``receipt_to``: where its receipt goes once recorded, if the
    # family gave an address, and when it went (sent once).
    by_reference = models.BooleanField("payé sans compte", default=False)
    receipt_to = models.EmailField("quittance envoyée à", blank=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=PaymentState.choices,
                             default=PaymentState.CREATED)
    result_code = models.CharField(max_length=2, blank=True)  # PayFiP's resultrans
    result = models.JSONField(default=dict, blank=True)  # what PayFiP answered, as it said it
    note = models.CharField(max_length=300, blank=True)  # for the operator: why an anomaly
    # Paid but not in the journal yet: why the last attempt failed, since when, how many
    # attempts (the notification, the return page and the reconciliation each try). Kept
    # once recorded: the history of what went wrong.
    problem = models.CharField("ce qui empêche l'enregistrement", max_length=300, blank=True)
    problem_since = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveIntegerField(default=0)
    # PayFiP's notifications received for it (a replay is counted, never applied twice).
    notifications = models.PositiveIntegerField(default=0)
    notified_at = models.DateTimeField(null=True, blank=True)
    # An anomaly settled by the régie: recorded (the amount PayFiP collected) or set aside,
    # by whom, when, why.
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=254, blank=True)
    resolution = models.CharField(max_length=300, blank=True)
    entry = models.OneToOneField("regies.LedgerEntry", null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="online_payment")
    created_at = models.DateTimeField(auto_now_add=True)
    checked_at = models.DateTimeField(null=True, blank=True)  # last result fetched
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0),
                                   name="online_payment_amount_positive"),
            models.CheckConstraint(condition=Q(entry__isnull=True) | Q(state="paid"),
                                   name="online_payment_entry_only_when_paid"),
            # One payment waiting for its result per invoice: a second click reuses it.
            models.UniqueConstraint(fields=["invoice"], condition=Q(state="created"),
                                    name="one_pending_online_payment_per_invoice"),
        ]
        indexes = [models.Index(fields=["state", "created_at"],
                                name="online_payments_to_check",
                                condition=Q(state__in=["created", "paid"]))]

    def __str__(self) -> str:
        return f"{self.idop or '-'} {self.amount_cents} c {self.state}"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


class RefusedNotification(models.Model):
    """A notification PayFiP's address received for an operation this commune does not
    know (forged, or meant for another commune): refused, and kept for the régies'
    agents to see — once per operation id, counted."""

    idop = models.CharField("identifiant de l'opération", max_length=64, unique=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    count = models.PositiveIntegerField(default=1)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_at"]

    def __str__(self) -> str:
        return f"{self.idop} ×{self.count}"


class ReferenceAttempt(models.Model):
    """An invoice number and code typed on « Payer une facture » (no account): wrong ones
    are counted, per address and per invoice number, to stop guessing
    (``online_payments.throttle``). The number is kept as typed, cut to an invoice number's
    length: an unknown number counts as a known one does."""

    at = models.DateTimeField(auto_now_add=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    number = models.CharField(max_length=30)
    succeeded = models.BooleanField()

    class Meta:
        indexes = [models.Index(fields=["number", "at"], name="reference_attempts_number"),
                   models.Index(fields=["ip", "at"], name="reference_attempts_ip")]

    def __str__(self) -> str:
        return f"{self.number} {self.at:%Y-%m-%d %H:%M} {'ok' if self.succeeded else 'ko'}"
