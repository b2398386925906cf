"""Returns and rejects of direct debits (R-transactions), from the bank's camt.054 report.

Each return, once per debit: the payment the confirmation booked is reversed in the
journal (a new, negative entry: the journal is append-only), dated to the first open day
from the day the bank booked the return — never refused for a closed day, like money that
arrives; the invoice is open again (the reversal releases what the payment paid); the
reason code is kept with its French label; the family and the régie's keepers are told by
e-mail after commit, once; a mandate returned twice is suspended. A debit rejected before
the bank confirmed the collection has no payment to reverse: it is marked returned and its
invoice stays open.

A file imported again is refused (its fingerprint); in a file, a return for a debit the
commune never sent, or already returned, is ignored and listed with why; a file that
cannot be read changes nothing."""

from __future__ import annotations

import datetime
import hashlib

from django.db import IntegrityError
from django.utils import timezone

from opsn.audit.events import event
from opsn.audit.services import record
from opsn.direct_debit.booking import reference_of
from opsn.direct_debit.camt054 import Return, read_camt054
from opsn.direct_debit.errors import DirectDebitConflict, DirectDebitError
from opsn.direct_debit.models import (
    CollectionLine,
    DebitReturn,
    LineStatus,
    Mandate,
    MandateStatus,
    ReturnFile,
)
from opsn.direct_debit.services import allowed
from opsn.direct_debit.tasks import notify_debit_returns
from opsn.jobs.broker import send
from opsn.kernel.actors import Actor
from opsn.kernel.money import euros
from opsn.kernel.tenancy import atomic, current_commune, on_commit
from opsn.regies.errors import RegieError
from opsn.regies.models import EntrySource, LedgerEntry
from opsn.regies.services.imports import import_size_check
from opsn.regies.services.payments import payment_reverse

ReturnsImported = event("sepa.returns_imported", "Retours de prélèvements « {file} » : "
                                                 "{returned} retour(s), {ignored} ignoré(s)")
DebitReturned = event("sepa.debit_returned", "Prélèvement {reference} de {payer} ({amount}, "
                                             "facture {invoice}) retourné par la banque : "
                                             "{code} – {label}{reversal}")
MandateSuspended = event("sepa.mandate_suspended", "Mandat {rum} de {payer} suspendu : "
                                                   "{count} prélèvements rejetés ou retournés")

# Returns on one mandate after which it is suspended (the régie sees the family first).
SUSPEND_AFTER = 2


def returns_import(*, content: bytes, file_name: str, actor: Actor,
                   today: datetime.date | None = None) -> ReturnFile:
    """Import a camt.054 return report of the commune (it may concern several régies).
    All or nothing: a return the journal refuses refuses the file."""
    try:
        import_size_check(len(content))
    except RegieError as exc:
        raise DirectDebitError(exc.message, field="file") from None
    file_name = (file_name or "retours.xml").replace("\x00", "")[:255] or "retours.xml"
    digest = hashlib.sha256(content).hexdigest()
    _refuse_known(digest)
    notice = read_camt054(content)
    if not notice.returns:
        raise DirectDebitError(f"Le fichier ne contient aucun prélèvement rejeté ou retourné "
                               f"(aucun élément <RtrInf> dans ses {notice.transactions} "
                               "opération(s)) : rien à importer.", field="xml")
    today = today or timezone.localdate()
    wanted = {r.end_to_end_id for r in notice.returns}
    with atomic():
        try:
            with atomic():
                file = ReturnFile.objects.create(
                    sha256=digest, file_name=file_name, message_id=notice.message_id,
                    version=notice.version, created_by=actor.account)
        except IntegrityError:
            _refuse_known(digest)
            raise
        lines = {line.end_to_end_id: line for line in CollectionLine.objects
                 .select_for_update(of=("self",))
                 .filter(end_to_end_id__in=wanted)
                 .select_related("collection__regie", "invoice__payer", "mandate")}
        for regie in {line.collection.regie for line in lines.values()}:
            allowed(regie, actor, "importer les prélèvements rejetés ou retournés")
        ignored: list[dict] = []
        done: list[DebitReturn] = []
        seen: set[str] = set()
        for item in notice.returns:
            line = lines.get(item.end_to_end_id)
            why = _ignored_because(item, line, seen)
            if why or line is None:
                ignored.append({"line": item.line, "reference": item.end_to_end_id,
                                "why": why})
                continue
            seen.add(item.end_to_end_id)
            done.append(_return_one(line, item, file, actor, today))
        file.returned, file.ignored = len(done), ignored
        file.save(update_fields=["returned", "ignored"])
        record(actor, ReturnsImported(target=f"sepa-returns:{file.pk}", data={
            "file": file_name, "returned": len(done), "ignored": len(ignored)}))
        if done:
            ids = [r.pk for r in done]
            on_commit(lambda: _enqueue_notices(ids))
    return file


def _refuse_known(digest: str) -> None:
    known = ReturnFile.objects.filter(sha256=digest).first()
    if known is not None:
        raise DirectDebitConflict(
            f"Ce fichier a déjà été importé le {timezone.localtime(known.created_at):%d/%m/%Y} "
            f"(« {known.file_name} », {known.returned} retour(s)) : rien n'est enregistré deux "
            "fois.", field="file")


def _ignored_because(item: Return, line: CollectionLine | None, seen: set[str]) -> str:
    reference = item.end_to_end_id
    if line is None:
        return (f"Aucun prélèvement de la commune ne porte la référence « {reference} » : "
                "retour ignoré (une remise d'un autre logiciel ?).")
    if reference in seen or line.status == LineStatus.RETURNED:
        earlier = DebitReturn.objects.filter(line=line).first()
        when = (f" (motif {earlier.reason_code}, le {earlier.returned_on:%d/%m/%Y})"
                if earlier else "")
        return (f"Le prélèvement {reference} est déjà retourné{when} : rien n'est enregistré "
                "deux fois.")
    if item.amount != line.amount:
        return (f"Le prélèvement {reference} était de {euros(line.amount)} et le retour en "
                f"annonce {euros(item.amount)} : retour ignoré, vérifiez avec la banque.")
    return ""


def _return_one(line: CollectionLine, item: Return, file: ReturnFile, actor: Actor,
                today: datetime.date) -> DebitReturn:
    regie = line.collection.regie
    label = item.reason_label
    reversal = None
    if line.status == LineStatus.BOOKED:
        entry = LedgerEntry.objects.get(regie=regie, source=EntrySource.DIRECT_DEBIT,
                                        external_ref=reference_of(line.end_to_end_id))
        if not LedgerEntry.objects.filter(reverses=entry).exists():
            reversal = payment_reverse(
                entry=entry, actor=actor,
                reason=f"Prélèvement retourné par la banque : {item.reason_code} – {label}",
                returned_on=min(item.booked_on, today),
                details={"motif": item.reason_code, "prelevement": line.end_to_end_id})
    CollectionLine.objects.filter(pk=line.pk).update(status=LineStatus.RETURNED)
    line.status = LineStatus.RETURNED
    debit_return = DebitReturn.objects.create(
        line=line, file=file, reversal=reversal, reason_code=item.reason_code,
        reason_label=label[:200], returned_on=item.booked_on, created_by=actor.account)
    invoice = line.invoice
    record(actor, DebitReturned(target=f"invoice:{invoice.number}", data={
        "reference": line.end_to_end_id, "payer": invoice.payer.name,
        "amount": euros(line.amount), "invoice": invoice.number, "code": item.reason_code,
        "label": label, "reversal": (f" ; quittance {reversal.reverses.receipt} annulée par "
                                     f"la quittance {reversal.receipt}") if reversal else
        " (rejeté avant l'encaissement)"}))
    _suspend_when_returned_twice(line.mandate, actor, today)
    return debit_return


def _suspend_when_returned_twice(mandate: Mandate, actor: Actor, today: datetime.date) -> None:
    count = DebitReturn.objects.filter(line__mandate=mandate).count()
    if count < SUSPEND_AFTER:
        return
    suspended = Mandate.objects.filter(pk=mandate.pk, status=MandateStatus.ACTIVE).update(
        status=MandateStatus.SUSPENDED, ended_on=today,
        end_reason=f"{count} prélèvements rejetés ou retournés")
    if suspended:
        record(actor, MandateSuspended(target=f"mandate:{mandate.rum}", data={
            "rum": mandate.rum, "payer": mandate.payer.name, "count": count}))


def _enqueue_notices(ids: list[int]) -> None:
    """After commit: the e-mails to the families and the keepers, by the job queue."""
    commune = current_commune()
    if commune is not None:
        send(notify_debit_returns, ids, commune=commune)
