"""SEPA direct debit in « Mes paiements »: for each payer linked to the person, the
régie's mandates and the debits to come; signing a mandate online (the mandate's text,
the account, a confirmation); revoking an active mandate or giving it a new account; the
signed mandate's PDF. Only payers linked to the person
are reached, each inside its commune's schema; the rules are the direct debit's
(``opsn.direct_debit``), the same as at the counter and over the API."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from opsn.citizens.errors import CitizenError, NotLinked
from opsn.citizens.models import PayerLink
from opsn.citizens.services import _who
from opsn.communes.models import Commune
from opsn.direct_debit import online
from opsn.direct_debit.errors import DirectDebitError
from opsn.direct_debit.models import Creditor, Mandate
from opsn.direct_debit.selectors import debit_returns, to_be_debited, upcoming_debits
from opsn.direct_debit.wording import TITLE, kind_text, mandate_text
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import inside
from opsn.regies.models import Payer


@dataclass
class Upcoming:
    date: datetime.date
    invoice: str
    regie: str
    amount: Decimal
    sent: bool  # in a collection handed to the bank; else at the next one after ``date``


@dataclass
class Returned:
    date: datetime.date
    invoice: str
    amount: Decimal
    reason: str  # the reason's French label ("provision insuffisante")
    rum: str


@dataclass
class PayerDebits:
    commune: Commune
    payer_id: int
    payer_name: str
    regie_name: str
    creditor: str  # the creditor's name, or "" when the régie does not debit
    mandates: list[Mandate] = field(default_factory=list)
    upcoming: list[Upcoming] = field(default_factory=list)
    returned: list[Returned] = field(default_factory=list)

    @property
    def suspended(self) -> list[Mandate]:
        return [m for m in self.mandates if m.status == "suspended"]

    @property
    def may_sign(self) -> bool:
        return bool(self.creditor) and not any(m.status == "active" for m in self.mandates)


def overview(subject: str, today: datetime.date | None = None) -> list[PayerDebits]:
    today = today or timezone.localdate()
    links = (PayerLink.objects.filter(subject=subject, unlinked_at__isnull=True,
                                      commune__status=Commune.Status.ACTIVE)
             .select_related("commune").order_by("commune__name", "payer_name"))
    by_commune: dict[int, list[PayerLink]] = {}
    for link in links:
        by_commune.setdefault(link.commune_id, []).append(link)
    found: list[PayerDebits] = []
    for group in by_commune.values():
        commune = group[0].commune
        with inside(commune):
            payers = {p.pk: p for p in Payer.objects.filter(
                pk__in=[link.payer_id for link in group]).select_related("regie")}
            creditors = dict(Creditor.objects.filter(
                regie_id__in={p.regie_id for p in payers.values()})
                .values_list("regie_id", "name"))
            mandates: dict[int, list[Mandate]] = {}
            for m in online.with_signature(Mandate.objects.filter(payer_id__in=payers)
                                           .order_by("-signed_on", "-id")):
                mandates.setdefault(m.payer_id, []).append(m)
            upcoming: dict[int, list[Upcoming]] = {}
            for line in upcoming_debits(list(payers), today):
                upcoming.setdefault(line.invoice.payer_id, []).append(Upcoming(
                    line.collection.collection_date, line.invoice.number,
                    line.invoice.regie.name, line.amount, True))
            for invoice in to_be_debited(list(payers)):
                upcoming.setdefault(invoice.payer_id, []).append(Upcoming(
                    invoice.due_on, invoice.number, invoice.regie.name,
                    invoice.total - invoice.amount_paid, False))
            returned: dict[int, list[Returned]] = {}
            for r in debit_returns(payer_ids=list(payers))[:100]:
                returned.setdefault(r.line.invoice.payer_id, []).append(Returned(
                    r.returned_on, r.line.invoice.number, r.line.amount, r.reason_label,
                    r.line.mandate.rum))
            for pk, payer in payers.items():
                found.append(PayerDebits(
                    commune=commune, payer_id=pk, payer_name=payer.name,
                    regie_name=payer.regie.name, creditor=creditors.get(payer.regie_id, ""),
                    mandates=mandates.get(pk, []), upcoming=upcoming.get(pk, []),
                    returned=returned.get(pk, [])))
    return found


def _payer(subject: str, commune_id: int, payer_id: int) -> tuple[Commune, int]:
    linked = PayerLink.objects.filter(subject=subject, commune_id=commune_id,
                                      payer_id=payer_id, unlinked_at__isnull=True,
                                      commune__status=Commune.Status.ACTIVE).exists()
    commune = Commune.objects.filter(pk=commune_id).first()
    if not linked or commune is None:
        raise NotLinked("Ce payeur n'est pas rattaché à votre compte : rattachez-le d'abord "
                        "avec le code imprimé sur une facture.")
    return commune, payer_id


@dataclass
class Offer:
    commune: Commune
    payer_name: str
    regie_name: str
    creditor_name: str
    ics: str
    title: str
    wording: list[str]
    kind: str


def _citizen_error(exc: DirectDebitError) -> CitizenError:
    error = CitizenError(exc.message, field=exc.field)
    error.http_status = 409 if exc.http_status == 409 else 400
    return error


def mandate_offer(subject: str, commune_id: int, payer_id: int) -> Offer:
    """What the person reads before entering the account: the mandate's text."""
    commune, _ = _payer(subject, commune_id, payer_id)
    with inside(commune):
        payer = Payer.objects.select_related("regie").filter(pk=payer_id).first()
        if payer is None:
            raise NotLinked("Ce payeur n'existe plus dans la commune.")
        try:
            creditor = online.offer(payer)
        except DirectDebitError as exc:
            raise _citizen_error(exc) from exc
        return Offer(commune=commune, payer_name=payer.name, regie_name=payer.regie.name,
                     creditor_name=creditor.name, ics=creditor.ics, title=TITLE,
                     wording=mandate_text(creditor.name), kind=kind_text("recurrent"))


def mandate_check(subject: str, commune_id: int, payer_id: int, *, debtor_name: str,
                  iban: str, bic: str) -> dict:
    """The account typed, checked; with the RUM the mandate will carry. Kept by the page
    (in the session) until the person confirms."""
    commune, _ = _payer(subject, commune_id, payer_id)
    with inside(commune):
        payer = Payer.objects.select_related("regie").get(pk=payer_id)
        try:
            return online.prepare(payer=payer, debtor_name=debtor_name, iban=iban, bic=bic)
        except DirectDebitError as exc:
            raise _citizen_error(exc) from exc


def mandate_sign(subject: str, commune_id: int, payer_id: int, *, prepared: dict,
                 signer: str, ip: str = "") -> tuple[str, int]:
    """The person confirmed: the mandate is active; returns its RUM and id."""
    commune, _ = _payer(subject, commune_id, payer_id)
    actor = Actor(account=f"citizen:{_who(subject)}", name=signer, ip=ip, kind="citizen")
    with inside(commune):
        payer = Payer.objects.select_related("regie").get(pk=payer_id)
        try:
            mandate = online.mandate_sign(payer=payer, signer=signer, actor=actor, ip=ip,
                                          **prepared)
        except DirectDebitError as exc:
            raise _citizen_error(exc) from exc
        return mandate.rum, mandate.pk


def mandate_pdf_for(subject: str, commune_id: int, mandate_id: int) -> tuple[str, bytes]:
    """The signed mandate of one of the person's linked payers: (RUM, PDF)."""
    payers = list(PayerLink.objects.filter(subject=subject, commune_id=commune_id,
                                           unlinked_at__isnull=True,
                                           commune__status=Commune.Status.ACTIVE)
                  .values_list("payer_id", flat=True))
    commune = Commune.objects.filter(pk=commune_id).first()
    refusal = NotLinked("Ce mandat n'est pas celui d'un payeur rattaché à votre compte.")
    if not payers or commune is None:
        raise refusal
    with inside(commune):
        mandate = Mandate.objects.filter(pk=mandate_id, payer_id__in=payers).first()
        pdf = online.signed_pdf(mandate) if mandate is not None else None
        if mandate is None or pdf is None:
            raise refusal
        return mandate.rum, pdf


# --- An active mandate revoked, or given a new account, by the person --------------------

@dataclass
class MandateView:
    """What the revocation and the change of account pages say of the mandate."""
    commune: Commune
    mandate_id: int
    rum: str
    payer_name: str
    regie_name: str
    iban: str  # masked: its last four characters
    pending: list[tuple[datetime.date, Decimal]]  # debits sent to the bank, not settled


def _linked_mandate(subject: str, commune_id: int, mandate_id: int) -> Mandate:
    """Inside the commune: the mandate of one of the person's linked payers; the same 404
    whether it does not exist or is someone else's."""
    payers = list(PayerLink.objects.filter(subject=subject, commune_id=commune_id,
                                           unlinked_at__isnull=True,
                                           commune__status=Commune.Status.ACTIVE)
                  .values_list("payer_id", flat=True))
    mandate = (Mandate.objects.select_related("payer", "regie")
               .filter(pk=mandate_id, payer_id__in=payers).first()) if payers else None
    if mandate is None:
        raise NotLinked("Ce mandat n'est pas celui d'un payeur rattaché à votre compte.")
    return mandate


def _commune(commune_id: int) -> Commune:
    commune = Commune.objects.filter(pk=commune_id, status=Commune.Status.ACTIVE).first()
    if commune is None:
        raise NotLinked("Ce mandat n'est pas celui d'un payeur rattaché à votre compte.")
    return commune


def _actor(subject: str, signer: str, ip: str) -> Actor:
    return Actor(account=f"citizen:{_who(subject)}", name=signer, ip=ip, kind="citizen")


def mandate_view(subject: str, commune_id: int, mandate_id: int) -> MandateView:
    """An active mandate of a linked payer, with the debits the bank may still take; a
    French refusal when it is no longer active."""
    commune = _commune(commune_id)
    with inside(commune):
        mandate = _linked_mandate(subject, commune_id, mandate_id)
        try:
            online.revocable(mandate)
        except DirectDebitError as exc:
            raise _citizen_error(exc) from exc
        return MandateView(commune=commune, mandate_id=mandate.pk, rum=mandate.rum,
                           payer_name=mandate.payer.name, regie_name=mandate.regie.name,
                           iban=mandate.iban_masked, pending=online.pending_debits(mandate))


def mandate_revoke(subject: str, commune_id: int, mandate_id: int, *, reason: str,
                   signer: str, ip: str = "") -> str:
    """The person confirmed: the mandate is revoked today; returns its RUM."""
    commune = _commune(commune_id)
    with inside(commune):
        mandate = _linked_mandate(subject, commune_id, mandate_id)
        try:
            return online.mandate_revoke_by_payer(
                mandate=mandate, reason=reason, actor=_actor(subject, signer, ip)).rum
        except DirectDebitError as exc:
            raise _citizen_error(exc) from exc


def amend_check(subject: str, commune_id: int, mandate_id: int, *, iban: str,
                bic: str) -> dict:
    """The new account typed, checked. Kept by the page (in the session) until the person
    agrees."""
    commune = _commune(commune_id)
    with inside(commune):
        mandate = _linked_mandate(subject, commune_id, mandate_id)
        try:
            return online.amend_prepare(mandate=mandate, iban=iban, bic=bic)
        except DirectDebitError as exc:
            raise _citizen_error(exc) from exc


def mandate_amend(subject: str, commune_id: int, mandate_id: int, *, prepared: dict,
                  signer: str, ip: str = "") -> tuple[str, str]:
    """The person agreed: the mandate debits the new account; returns (RUM, masked IBAN)."""
    commune = _commune(commune_id)
    with inside(commune):
        mandate = _linked_mandate(subject, commune_id, mandate_id)
        try:
            mandate = online.mandate_amend_by_payer(
                mandate=mandate, iban=prepared["iban"], bic=prepared["bic"],
                actor=_actor(subject, signer, ip))
        except DirectDebitError as exc:
            raise _citizen_error(exc) from exc
        return mandate.rum, mandate.iban_masked
