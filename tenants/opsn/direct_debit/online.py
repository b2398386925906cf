"""A mandate signed online by the citizen linked to the payer (« Mes paiements »): the
citizens' space checks the link, then calls these inside the commune's schema. The
mandate is recorded by the same service as a paper one (``services.mandate_create``),
its signature (when, who, the wording accepted, the PDF given) kept beside it."""

from __future__ import annotations

import datetime

from django.db.models import Exists, OuterRef
from django.utils import timezone

from opsn.audit.events import event
from opsn.audit.services import record
from opsn.direct_debit.banking import clean_bic, clean_iban
from opsn.direct_debit.documents import mandate_pdf
from opsn.direct_debit.errors import DirectDebitConflict, DirectDebitError
from opsn.direct_debit.models import (
    Creditor,
    Mandate,
    MandateKind,
    MandateSignature,
    MandateSource,
    MandateStatus,
)
from opsn.direct_debit.services import NAME_MAX, _new_rum, _text, creditor_of, mandate_create
from opsn.direct_debit.wording import mandate_text
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import atomic
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
