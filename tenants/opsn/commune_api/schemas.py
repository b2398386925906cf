"""What the business software sends and receives. Amounts travel as strings ("12.50"):
a JSON number with a fraction is a float, whose cents are inexact, and the régies refuse
it with their own message. Unknown fields are refused, so that a misspelt
``external_ref`` is not silently ignored."""

from __future__ import annotations

import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic.json_schema import WithJsonSchema

# Floats are let through the schema on purpose: ``regies.money.parse_amount`` refuses them
# with the message the agents' pages show too.
Amount = Annotated[StrictStr | StrictInt | StrictFloat, WithJsonSchema(
    {"type": "string", "examples": ["12.50"],
     "description": "montant en euros, en texte, deux décimales au plus"})]
Quantity = Annotated[StrictStr | StrictInt | StrictFloat, WithJsonSchema(
    {"type": "string", "examples": ["1", "2.5"], "description": "trois décimales au plus"})]
Money = Annotated[str, Field(examples=["12.50"])]


# Plain pydantic models, not ninja's ``Schema``: its wrap validator reads objects through a
# getter for ORM instances (we only ever validate dicts) and, with ``extra="forbid"``,
# validates every nested level twice; for a single payment that was a third of the API's
# own CPU.
class Out(BaseModel):
    """What the API answers."""


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- Errors --------------------------------------------------------------------------------

class ErrorOut(Out):
    code: str
    message: str
    field: str | None = None
    line: int | None = Field(None, description="position (à partir de 1) de la facture ou du "
                                               "paiement fautif dans ce qui a été envoyé")


# --- Régies --------------------------------------------------------------------------------

class RegieOut(Out):
    number: str
    name: str
    accepted_modes: list[str]
    starts_on: datetime.date
    ends_on: datetime.date | None


# --- Payers --------------------------------------------------------------------------------

class PayerIn(In):
    external_ref: str = Field(min_length=1, max_length=60,
                              description="l'identifiant du payeur dans le logiciel métier")
    name: str = Field(max_length=200)
    kind: str = "family"
    address_line: str = Field("", max_length=250)
    postal_code: str = Field("", max_length=10)
    city: str = Field("", max_length=120)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=30)
    invoices_by_email: bool = Field(True, description="chaque nouvelle facture part par "
                                    "courriel à ``email``, avec son PDF (sauf si false)")


class MandateIn(In):
    rum: str = Field("", max_length=35, description=(
        "la référence unique du mandat (RUM) du logiciel métier ; vide : générée. Renvoyer "
        "la même RUM avec un autre IBAN modifie le mandat (la RUM reste)"))
    debtor_name: str = Field(max_length=70, description="le titulaire du compte")
    iban: str = Field(max_length=60)
    bic: str = Field(max_length=20)
    signed_on: datetime.date | None = Field(description="date de signature du mandat")
    kind: str = Field("recurrent", description="« recurrent » ou « one_off »")


class MandateAmendIn(In):
    iban: str = Field(max_length=60, description="le nouvel IBAN")
    bic: str = Field(max_length=20)
    debtor_name: str = Field("", max_length=70, description="le titulaire, s'il change")


class MandateRevokeIn(In):
    reason: str = Field(max_length=300, description="le motif (courrier de la famille…)")


class CollectionIn(In):
    date: datetime.date = Field(description="la date d'échéance : un jour ouvré à venir")


class CollectionOut(Out):
    id: int
    message_id: str
    collection_date: datetime.date
    count: int
    total: str = Field(description="montant total, en texte (\"1234.50\")")
    created_at: datetime.datetime
    download_url: str = Field(description="le fichier pain.008 (même accès)")


class ConfirmationIn(In):
    credited_on: datetime.date | None = Field(
        None, description="le jour où la banque a crédité la remise (par défaut son échéance)")


class ConfirmationOut(Out):
    collection: str = Field(description="l'identifiant de la remise (MsgId)")
    credited_on: datetime.date
    count: int = Field(description="prélèvements enregistrés au journal")
    total: str = Field(description="montant encaissé, en texte (\"1234.50\")")
    first_receipt: str
    last_receipt: str
    to_credit: int = Field(description="prélèvements allés à l'avoir du payeur (facture "
                                       "transmise au comptable public entre-temps)")


class ReturnedOut(Out):
    reference: str = Field(description="référence de bout en bout du prélèvement")
    regie: str
    invoice: str
    payer: str = Field(description="référence du payeur dans le logiciel métier")
    amount: str
    reason_code: str = Field(description="code motif ISO 20022 (AM04, MD06…)")
    reason_label: str
    returned_on: datetime.date
    reversal_receipt: str | None = Field(
        description="quittance d'annulation du paiement ; null pour un rejet avant "
                    "l'encaissement")


class IgnoredOut(Out):
    line: int | None
    reference: str
    why: str


class ReturnsOut(Out):
    file_name: str
    message_id: str
    returned: list[ReturnedOut]
    ignored: list[IgnoredOut]


class MandateOut(Out):
    rum: str
    payer: str
    debtor_name: str
    iban: str = Field(description="les quatre derniers caractères seulement")
    bic: str
    signed_on: datetime.date
    kind: str
    status: str
    last_collected_on: datetime.date | None


class PayerOut(Out):
    external_ref: str
    link_code: str
    kind: str
    name: str
    address_line: str
    postal_code: str
    city: str
    email: str
    phone: str


# --- Invoices ------------------------------------------------------------------------------

class LineIn(In):
    label: str = Field("", max_length=200)
    quantity: Quantity = "1"
    unit_price: Amount | None = None
    product: str = Field("", description="code d'un produit de la régie (donne libellé et prix)")
    period_start: datetime.date | None = None
    period_end: datetime.date | None = None
    beneficiary: str = Field("", max_length=200)


class InvoiceIn(In):
    payer: str = Field(description="external_ref du payeur")
    number: str = Field("", max_length=30,
                        description="vide : la régie numérote (<régie>-<année>-<n>)")
    label: str = Field("", max_length=200)
    issued_on: datetime.date | None = None
    due_on: datetime.date | None = None
    lines: list[LineIn]


class InvoicesIn(In):
    invoices: list[InvoiceIn] = Field(min_length=1, max_length=5000)


class LineOut(Out):
    label: str
    quantity: str
    unit_price: Money
    amount: Money
    product: str | None
    period_start: datetime.date | None
    period_end: datetime.date | None
    beneficiary: str
    nature: str = Field(description="le compte par nature M57 de la ligne, copié à l'émission "
                                    "(celui du produit, sinon celui de la régie) ; vide : "
                                    "non imputée")
    fonction: str = Field(description="la fonction M57 de la ligne, copiée à l'émission")


class InvoiceOut(Out):
    number: str
    payer: str
    payer_name: str
    label: str
    issued_on: datetime.date
    due_on: datetime.date
    total: Money
    amount_paid: Money
    remaining: Money
    status: str = Field(description="due | partly_paid | paid | cancelled")
    online_payment: str | None = Field(
        None, description="un paiement en ligne de la facture en cours : received (reçu, en "
                          "cours d'enregistrement), checking (en vérification à la régie), "
                          "pending (résultat attendu) ; n'encaissez pas la facture une "
                          "seconde fois")
    lines: list[LineOut]


class InvoicesOut(Out):
    invoices: list[InvoiceOut]


# --- Payments ------------------------------------------------------------------------------

class PaymentIn(In):
    amount: Amount
    mode: str = Field(examples=["card"], description="cash | cheque | card | transfer | "
                                                     "direct_debit | online | other")
    external_ref: str = Field(max_length=100, description="l'identifiant du paiement dans le "
                                                          "logiciel métier : le même paiement "
                                                          "n'est jamais encaissé deux fois")
    payer: str = Field("", description="external_ref du payeur (sinon : celui des factures)")
    payer_name: str = Field("", max_length=200)
    invoices: list[str] = Field([], description="numéros des factures, réglées dans l'ordre")
    allocations: dict[str, Amount] = Field({}, description="numéro de facture → montant")
    details: dict[str, str] = Field({}, description="cheque_number et bank (chèque), "
                                                    "terminal_ref (carte), note (autre)")


class PaymentsIn(In):
    """One payment, or ``{"payments": [...]}``: all posted or none."""

    payments: list[PaymentIn] = Field(min_length=1, max_length=5000)
    _single: bool = PrivateAttr(False)

    @model_validator(mode="wrap")
    @classmethod
    def _one_or_many(cls, data, handler):
        single = isinstance(data, dict) and "payments" not in data
        model = handler({"payments": [data]} if single else data)
        if isinstance(model, PaymentsIn):
            model._single = single
        return model

    @property
    def single(self) -> bool:
        return self._single


class AllocationOut(Out):
    invoice: str
    amount: Money


class PaymentOut(Out):
    receipt: str = Field(examples=["2026-000042"])
    regie: str
    amount: Money
    mode: str
    payer: str | None = Field(description="external_ref du payeur")
    payer_name: str
    external_ref: str
    details: dict[str, str]
    posted_at: datetime.datetime
    accounting_day: datetime.date = Field(
        description="la journée comptable du paiement : celle de posted_at, ou la suivante "
                    "pour un virement, un prélèvement ou un paiement en ligne reçu après "
                    "l'arrêté de caisse du jour")
    collected_by: str
    allocations: list[AllocationOut]
    reverses: str | None = Field(description="la quittance que cette écriture annule")
    reversed_by: str | None = Field(description="la quittance qui annule celle-ci")
    reason: str


class PaymentsOut(Out):
    payments: list[PaymentOut]


class ReversalIn(In):
    reason: str = Field(max_length=300)


class OwedBucketOut(Out):
    key: str = Field(description="0-30 | 31-60 | 61-90 | 90+ (jours de retard)")
    label: str
    invoices: int
    owed: Money


class OwedItemOut(Out):
    """A past-due invoice (``group=invoice``) or a payer's total (``group=payer``)."""

    payer: str = Field(description="la référence du payeur dans le logiciel métier")
    payer_name: str
    invoices: int = Field(description="le nombre de factures en retard (1 pour une facture)")
    owed: Money = Field(description="le reste dû")
    by_bucket: dict[str, Money] = Field(description="le reste dû par tranche de retard")
    number: str | None = Field(None, description="le numéro de la facture (group=invoice)")
    due_on: datetime.date | None = None
    days_late: int | None = Field(None, description="jours depuis l'échéance (1 le lendemain)")
    bucket: str | None = None
    total: Money | None = None


class OwedOut(Out):
    on: datetime.date
    invoices: int = Field(description="le nombre de factures en retard")
    owed: Money = Field(description="le reste dû en tout")
    buckets: list[OwedBucketOut]
    group: str = Field(description="invoice | payer : ce que ``items`` énumère")
    items: list[OwedItemOut]
    next_offset: int | None = Field(None, description="l'offset de la page suivante, s'il y en a")


# --- Hand-over to the public accountant ------------------------------------------------------

class HandoverIn(In):
    """Either a rule (``due_before``, optionally ``min_amount``) or the invoices named
    (``invoices``; ``min_amount`` then filters them too)."""

    due_before: datetime.date | None = Field(
        None, description="les factures impayées échues avant ce jour (AAAA-MM-JJ)")
    min_amount: Amount | None = Field(None, description="seulement celles qui doivent encore "
                                                        "au moins ce montant")
    invoices: list[Annotated[str, Field(max_length=30)]] | None = Field(
        None, max_length=50_000, description="ou : les numéros des factures à transmettre, "
                                             "chacune impayée et échue (toutes ou aucune)")

    @model_validator(mode="after")
    def one_rule(self):
        if self.invoices is None and self.due_before is None:
            raise ValueError("donnez due_before (les factures échues avant ce jour) ou "
                             "invoices (leurs numéros)")
        return self


class HandoverLineOut(Out):
    piece: int = Field(description="le numéro du titre dans le bordereau (IdPce)")
    invoice: str
    payer: str = Field(description="la référence du payeur dans le logiciel métier")
    payer_name: str
    amount: Money = Field(description="le reste dû transmis")
    state: str = Field(description="pending (en attente de l'accusé) | accepted | rejected "
                                   "(rendue à la régie, de nouveau payable) | cancelled")
    reason: str = Field("", description="le motif d'un rejet ou de l'annulation")


class HandoverOut(Out):
    id: int
    number: int = Field(description="le numéro du bordereau (par budget et exercice)")
    year: int
    budget: str
    state: str = Field(description="sent | accepted | partly | rejected | cancelled")
    state_label: str
    due_before: datetime.date
    count: int
    total: Money
    file_name: str
    sha256: str
    created_at: datetime.datetime
    cancelled_at: datetime.datetime | None = None
    cancel_reason: str = ""
    lines: list[HandoverLineOut]
    next_offset: int | None = Field(None, description="l'offset de la page suivante des "
                                                      "lignes, s'il y en a")


class HandoverCancelIn(In):
    reason: str = Field(max_length=300)
