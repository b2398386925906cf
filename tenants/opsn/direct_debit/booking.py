"""Booking a collection when the bank confirms it: each debit the bank credited enters the
régie's journal through the one way in for payments (``payments_post``), as money already
collected — mode « prélèvement SEPA », gapless receipts, dated to the day the money reached
the account (the collection date by default; the first open day from it when the counter
closed that day: never refused for a closed day). An invoice that can no longer take the
money (paid meanwhile, cancelled, handed over to the public accountant) leaves it on the
payer's credit, for the régie to refund or apply.

Set-based: one ``payments_post`` for the whole collection, one update of its lines, one
audit line. Once per collection: a replayed confirmation is refused and changes nothing."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from opsn.audit.events import event
from opsn.audit.services import record
from opsn.direct_debit.errors import DirectDebitConflict, DirectDebitError, DirectDebitNotFound
from opsn.direct_debit.models import Collection, CollectionLine, Confirmation, LineStatus
from opsn.direct_debit.services import allowed
from opsn.kernel.actors import Actor
from opsn.kernel.money import euros
from opsn.kernel.tenancy import atomic
from opsn.regies.models import EntrySource, Invoice, Payer, PaymentMode, Regie
from opsn.regies.services.payments import PaymentDraft, payments_post

CollectionBooked = event("sepa.collection_booked",
                         "Remise {message_id} de la régie {regie} confirmée par la banque, "
                         "créditée le {day} : {count} prélèvement(s), {total}, quittances "
                         "{first} à {last}{to_credit}")


def reference_of(end_to_end_id: str) -> str:
    """The journal's reference of a debit's payment (by the debit's end-to-end id):
    unique in the régie's journal."""
    return f"sepa:{end_to_end_id}"


def collection_find(regie: Regie, reference: str) -> Collection:
    """A collection of ``regie`` by its message id (as in the pain.008 file and on the
    bank's report) or its number."""
    reference = (reference or "").strip()
    if "\x00" in reference or not reference or len(reference) > 35:
        raise DirectDebitError("Donnez l'identifiant de la remise (MsgId du fichier "
                               "pain.008, 35 caractères au plus) ou son numéro.",
                               field="collection")
    found = Collection.objects.filter(regie=regie).filter(
        Q(message_id=reference) | Q(pk=int(reference))
        if reference.isascii() and reference.isdigit() and len(reference) < 12
        else Q(message_id=reference)).first()
    if found is None:
        raise DirectDebitNotFound(f"Aucune remise « {reference} » dans la régie "
                                  f"{regie.number}.", field="collection")
    return found


def collection_confirm(*, collection: Collection, actor: Actor,
                       credited_on: datetime.date | None = None,
                       today: datetime.date | None = None) -> Confirmation:
    """The bank credited ``collection`` on ``credited_on`` (its collection date unless
    said): its debits not rejected meanwhile are booked, all or none."""
    regie = collection.regie
    allowed(regie, actor, "enregistrer la confirmation d'une remise de prélèvements")
    today = today or timezone.localdate()
    day = credited_on or collection.collection_date
    if day < collection.collection_date:
        raise DirectDebitError(f"La remise {collection.message_id} est à échéance du "
                               f"{collection.collection_date:%d/%m/%Y} : la banque ne la "
                               f"crédite pas avant (date donnée : {day:%d/%m/%Y}).",
                               field="date")
    if day > today:
        raise DirectDebitError(f"Le {day:%d/%m/%Y} est à venir : enregistrez la confirmation "
                               "quand la banque a crédité le compte de la régie.",
                               field="date")
    with atomic():
        collection = Collection.objects.select_for_update().get(pk=collection.pk)
        done = Confirmation.objects.filter(collection=collection).first()
        if done is not None:
            raise DirectDebitConflict(
                f"La remise {collection.message_id} est déjà confirmée (enregistrée le "
                f"{timezone.localtime(done.created_at):%d/%m/%Y}, quittances "
                f"{done.first_receipt or '–'} à {done.last_receipt or '–'}) : rien n'est "
                "enregistré deux fois.", field="collection")
        # Read as plain rows (20,000 lines make 100,000 model instances otherwise): the
        # drafts need the invoice's id only (payments_post reads the invoices under the
        # régie's lock), and each payer once.
        rows = list(CollectionLine.objects.filter(collection=collection,
                                                  status=LineStatus.SENT).order_by("id")
                    .values_list("amount", "end_to_end_id", "mandate__rum", "invoice_id",
                                 "invoice__number", "invoice__payer_id",
                                 "invoice__handed_over__id"))
        payers = Payer.objects.only("id", "regie_id", "name").in_bulk(
            {row[5] for row in rows})
        drafts, to_credit = [], 0
        for amount, e2e, rum, invoice_id, number, payer_id, handed in rows:
            kept = handed is None
            to_credit += not kept
            drafts.append(PaymentDraft(
                amount=amount, mode=PaymentMode.DIRECT_DEBIT, payer=payers[payer_id],
                invoices=[Invoice(pk=invoice_id)] if kept else [],
                details={"rum": rum, "remise": collection.message_id, "facture": number},
                external_ref=reference_of(e2e)))
        entries = payments_post(regie=regie, actor=actor, drafts=drafts,
                                source=EntrySource.DIRECT_DEBIT, audit_each=False,
                                collected=True, on=day)
        booked = CollectionLine.objects.filter(collection=collection, status=LineStatus.SENT)
        booked.update(status=LineStatus.BOOKED)
        total = sum((e.amount for e in entries), Decimal("0.00"))
        confirmation = Confirmation.objects.create(
            collection=collection, credited_on=day, count=len(entries), total=total,
            to_credit=to_credit, first_receipt=entries[0].receipt if entries else "",
            last_receipt=entries[-1].receipt if entries else "", created_by=actor.account)
        record(actor, CollectionBooked(target=f"collection:{collection.message_id}", data={
            "message_id": collection.message_id, "regie": regie.number,
            "day": f"{day:%d/%m/%Y}", "count": len(entries), "total": euros(total),
            "first": confirmation.first_receipt or "–", "last": confirmation.last_receipt or "–",
            "to_credit": (f" ; {to_credit} à l'avoir du payeur (facture transmise au "
                          "comptable public)") if to_credit else ""}))
    return confirmation
