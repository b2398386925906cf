"""A mandate signed, revoked or given a new account online by the citizen linked to the
payer (« Mes paiements »): the citizens' space checks the link, then calls these inside
the commune's schema. The mandate is recorded, amended and revoked by the same services
as an agent's (``services.mandate_create``, ``services.amend``, ``services.revoke``): only
who may differs. A signature (when, who, the wording accepted, the PDF given) is kept
beside the mandate; a revocation or a new account is told to the régie's keepers by
e-mail, once, after commit."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db.models import Exists, OuterRef, Sum
from django.utils import timezone

from opsn.audit.events import event
from opsn.audit.services import record
from opsn.direct_debit.banking import clean_bic, clean_iban
from opsn.direct_debit.documents import mandate_pdf
from opsn.direct_debit.errors import DirectDebitConflict, DirectDebitError
from opsn.direct_debit.models import (
    CollectionLine,
    Creditor,
    LineStatus,
    Mandate,
    MandateKind,
    MandateSignature,
    MandateSource,
    MandateStatus,
)
from opsn.direct_debit.services import (
    NAME_MAX,
    REASON_MAX,
    _new_rum,
    _still_active,
    _text,
    amend,
    creditor_of,
    mandate_create,
    revoke,
)
from opsn.direct_debit.tasks import notify_mandate_change
from opsn.direct_debit.wording import mandate_text
from opsn.jobs.broker import send
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import atomic, current_commune, on_commit
from opsn.regies.models import Payer

MandateSigned = event("sepa.mandate_signed", "Mandat {rum} de {payer} signé en ligne par "
                                             "{signer}, compte {iban}")


def offer(payer: Payer) -> Creditor:
    """The creditor a linked citizen may sign a mandate for, or a French refusal."""
    creditor = creditor_of(payer.regie)
    if Mandate.objects.filter(payer=payer, status=MandateStatus.ACTIVE).exists():
        raise DirectDebitConflict(f"{payer.name} a déjà un mandat de prélèvement actif pour "
                                  f"la régie {payer.regie.name}.")
    return creditor


def prepare(*, payer: Payer, debtor_name: str, iban: str, bic: str) -> dict:
    """The values typed, checked (the same rules as everywhere), with the reference the
    mandate will carry: what the confirmation step shows and the signature uses."""
    creditor = offer(payer)
    return {"debtor_name": _text(debtor_name, field="debtor_name",
                                 label="Le nom du titulaire du compte", max_length=NAME_MAX),
            "iban": clean_iban(iban), "bic": clean_bic(bic),
            "rum": _new_rum(creditor, payer.regie, payer)}


def mandate_sign(*, payer: Payer, debtor_name: str, iban: str, bic: str, rum: str,
                 signer: str, actor: Actor, ip: str = "",
                 now: datetime.datetime | None = None) -> Mandate:
    """The citizen confirmed: the mandate is active from today, its PDF kept."""
    now = now or timezone.now()
    creditor = offer(payer)
    with atomic():
        try:
            mandate = mandate_create(payer=payer, debtor_name=debtor_name, iban=iban, bic=bic,
                                     signed_on=timezone.localdate(now),
                                     kind=MandateKind.RECURRENT, rum=rum,
                                     source=MandateSource.ONLINE, actor=actor)
        except DirectDebitConflict:
            raise DirectDebitError("La référence de ce mandat vient d'être donnée à un autre "
                                   "mandat : rien n'a été signé, recommencez.") from None
        pdf = mandate_pdf(mandate, creditor, signed_at=now, signer=signer)
        MandateSignature.objects.create(mandate=mandate, signed_at=now, signer=signer,
                                        ip=ip or None,
                                        wording="\n\n".join(mandate_text(creditor.name)),
                                        pdf=pdf)
        record(actor, MandateSigned(target=f"mandate:{mandate.rum}", data={
            "rum": mandate.rum, "payer": payer.name, "signer": signer,
            "iban": mandate.iban_masked}))
    return mandate


def signed_pdf(mandate: Mandate) -> bytes | None:
    """The signed mandate's PDF as it was kept; None when it was not signed online, or
    when the payer's personal data were erased since (the mandate ended)."""
    signature = MandateSignature.objects.filter(mandate=mandate).first()
    return bytes(signature.pdf) if signature is not None and signature.pdf else None


def _kept_signatures():
    """Signatures whose PDF is still kept (blanked when the payer's data were erased)."""
    return MandateSignature.objects.exclude(pdf=b"")


def signed_online(mandate: Mandate) -> bool:
    """Whether the mandate's signed PDF can be offered, without reading the PDF."""
    return _kept_signatures().filter(mandate=mandate).exists()


def with_signature(mandates):
    return mandates.annotate(signed_online=Exists(
        _kept_signatures().filter(mandate=OuterRef("pk"))))


# --- Revoked or given a new account by the payer ------------------------------------------

REVOKED_ONLINE = "Révoqué en ligne par l'usager"
REASON_TYPED_MAX = REASON_MAX - len(REVOKED_ONLINE) - 3


def pending_debits(mandate: Mandate) -> list[tuple[datetime.date, Decimal]]:
    """The debits of ``mandate`` handed to the bank and not settled (a collection written,
    not yet booked nor returned): the bank may still take them after a revocation. Their
    collection dates and amounts, one per collection, the earliest first."""
    rows = (CollectionLine.objects.filter(mandate=mandate, status=LineStatus.SENT)
            .values_list("collection__collection_date").annotate(total=Sum("amount"))
            .order_by("collection__collection_date"))
    return [(day, total) for day, total in rows]


def revocable(mandate: Mandate) -> None:
    """A French refusal unless the payer may still revoke or change ``mandate``."""
    _still_active(mandate, "il n'est plus utilisé, rien à révoquer ni à modifier.")


def _notify_keepers(mandate: Mandate, change: str) -> None:
    commune = current_commune()
    if commune is not None:
        pk = mandate.pk
        on_commit(lambda: send(notify_mandate_change, pk, change, commune=commune))


def mandate_revoke_by_payer(*, mandate: Mandate, reason: str, actor: Actor,
                            today: datetime.date | None = None) -> Mandate:
    """The payer's linked citizen revokes the mandate (``reason`` may be empty): the same
    revocation as an agent's (``services.revoke``); the régie's keepers are told."""
    if "\x00" in reason:
        raise DirectDebitError("Le motif contient un caractère nul.", field="reason")
    reason = " ".join(reason.split())
    if len(reason) > REASON_TYPED_MAX:
        raise DirectDebitError(f"Le motif : {REASON_TYPED_MAX} caractères au plus.",
                               field="reason")
    with atomic():
        mandate = revoke(mandate=mandate, actor=actor, today=today,
                         reason=f"{REVOKED_ONLINE} : {reason}" if reason else REVOKED_ONLINE)
        _notify_keepers(mandate, "revoked")
    return mandate


def amend_prepare(*, mandate: Mandate, iban: str, bic: str) -> dict:
    """The new account typed, checked (the same rules as everywhere): what the
    confirmation step shows and the amendment uses."""
    revocable(mandate)
    checked = {"iban": clean_iban(iban), "bic": clean_bic(bic)}
    if checked["iban"] == mandate.iban and checked["bic"] == mandate.bic:
        raise DirectDebitError("Ce compte est déjà celui du mandat : rien à modifier.",
                               field="iban")
    return checked


def mandate_amend_by_payer(*, mandate: Mandate, iban: str, bic: str, actor: Actor,
                           today: datetime.date | None = None) -> Mandate:
    """The payer's linked citizen gives the mandate a new account: the same amendment as
    an agent's (``services.amend``: the RUM stays, the next collection announces it); the
    régie's keepers are told."""
    with atomic():
        mandate = amend(mandate=mandate, iban=iban, bic=bic, actor=actor, today=today)
        _notify_keepers(mandate, "amended")
    return mandate
