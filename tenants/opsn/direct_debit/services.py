"""What changes SEPA direct debit data: the régie as creditor, mandates (record, amend,
revoke, lapse), collections. Every change is in the audit log."""

from __future__ import annotations

import datetime
import uuid

from django.db import IntegrityError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from opsn.agents.models import Role
from opsn.agents.selectors import roles_of
from opsn.audit.events import event
from opsn.audit.services import record
from opsn.direct_debit import pain008
from opsn.direct_debit.banking import (
    clean_bic,
    clean_iban,
    clean_ics,
    clean_rum,
    ics_suffix,
    rum_part,
    same_bank,
)
from opsn.direct_debit.errors import DirectDebitConflict, DirectDebitError
from opsn.direct_debit.models import (
    Collection,
    CollectionLine,
    Creditor,
    LineStatus,
    Mandate,
    MandateKind,
    MandateSource,
    MandateStatus,
    SequenceType,
)
from opsn.finance.selectors import handed_over
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import atomic
from opsn.regies.errors import NotAllowed
from opsn.regies.models import OWED_STATUSES, AssignmentRole, Invoice, Payer, Regie
from opsn.regies.permissions import assignment_of, require_invoicer

CreditorSaved = event("sepa.creditor_saved", "Créancier SEPA de la régie {regie} : ICS {ics}, "
                                             "compte {iban}")
MandateRecorded = event("sepa.mandate_recorded", "Mandat {rum} de {payer} ({kind}), compte "
                                                 "{iban}")
MandateAmended = event("sepa.mandate_amended", "Mandat {rum} : nouveau compte {iban} "
                                               "(auparavant {original})")
MandateRevoked = event("sepa.mandate_revoked", "Mandat {rum} révoqué : {reason}")
MandatesLapsed = event("sepa.mandates_lapsed", "{count} mandat(s) caduc(s) : 36 mois sans "
                                               "prélèvement")
CollectionWritten = event("sepa.collection_written", "Remise de prélèvements {message_id} de "
                                                     "la régie {regie} au {date} : {count} "
                                                     "prélèvement(s), {total} €")

LAPSE_MONTHS = 36
NAME_MAX = 70


def _text(value: str, *, field: str, label: str, max_length: int) -> str:
    if "\x00" in value:
        raise DirectDebitError(f"{label} contient un caractère nul.", field=field)
    value = value.strip()
    if not value:
        raise DirectDebitError(f"{label} est obligatoire.", field=field)
    if len(value) > max_length:
        raise DirectDebitError(f"{label} : {max_length} caractères au plus.", field=field)
    return value


def _allowed(regie: Regie, actor: Actor, what: str) -> None:
    """Whoever may invoice for the régie (its agents, the commune's administrators and
    finance staff, the business software named in it) handles its direct debits."""
    require_invoicer(regie, actor, timezone.localdate(), what)


def _creditor_keeper(regie: Regie, actor: Actor) -> None:
    """The régie's creditor identity and account are the titulaire's (who answers for the
    régie) or the commune administrator's; the operator's command acts as the system."""
    if actor.kind == "system" or Role.ADMINISTRATOR in roles_of(actor.account):
        return
    assignment = assignment_of(regie, actor.account, timezone.localdate())
    if assignment is not None and assignment.role == AssignmentRole.TITULAIRE:
        return
    raise NotAllowed(f"Seuls l'administrateur de la commune et le régisseur titulaire de la "
                     f"régie {regie.name} enregistrent son identifiant créancier SEPA et son "
                     "compte.")
allowed = _allowed  # the same rule for the booking and the returns (their own modules)


def creditor_set(*, regie: Regie, ics: str, iban: str, bic: str, name: str,
                 actor: Actor) -> Creditor:
    _creditor_keeper(regie, actor)
    fields = {"ics": clean_ics(ics), "iban": clean_iban(iban), "bic": clean_bic(bic),
              "name": _text(name, field="name", label="Le nom du créancier",
                            max_length=NAME_MAX)}
    creditor, _ = Creditor.objects.update_or_create(regie=regie, defaults=fields)
    record(actor, CreditorSaved(target=f"regie:{regie.number}", data={
        "regie": regie.number, "ics": creditor.ics, "iban": creditor.iban_masked}))
    return creditor


def creditor_of(regie: Regie) -> Creditor:
    try:
        return Creditor.objects.get(regie=regie)
    except Creditor.DoesNotExist:
        raise DirectDebitError(
            f"La régie {regie.number} n'a pas d'identifiant créancier SEPA (ICS) ni de compte "
            "DFT enregistrés : le prélèvement n'est pas possible.", field="ics") from None


def _new_rum(creditor: Creditor, regie: Regie, payer: Payer) -> str:
    stem = f"{ics_suffix(creditor.ics)}-{rum_part(regie.number, 10)}-{payer.pk}"
    n = Mandate.objects.filter(rum__startswith=f"{stem}-").count() + 1
    while Mandate.objects.filter(rum=f"{stem}-{n}").exists():
        n += 1
    return f"{stem}-{n}"[:35]


def mandate_record(*, payer: Payer, debtor_name: str, iban: str, bic: str,
                   signed_on: datetime.date | None, kind: str = MandateKind.RECURRENT,
                   rum: str = "", source: str = MandateSource.PAPER, actor: Actor,
                   today: datetime.date | None = None) -> Mandate:
    """A mandate signed by the payer (on paper, entered by an agent; or pushed by the
    business software). Its RUM is generated unless the software gives its own."""
    _allowed(payer.regie, actor, "enregistrer un mandat de prélèvement")
    return mandate_create(payer=payer, debtor_name=debtor_name, iban=iban, bic=bic,
                          signed_on=signed_on, kind=kind, rum=rum, source=source, actor=actor,
                          today=today)


def mandate_create(*, payer: Payer, debtor_name: str, iban: str, bic: str,
                   signed_on: datetime.date | None, kind: str, rum: str, source: str,
                   actor: Actor, today: datetime.date | None = None) -> Mandate:
    """The mandate itself, once whoever records it may (an agent or the software for
    the régie: ``mandate_record``; the payer's linked citizen: ``online.mandate_sign``)."""
    regie = payer.regie
    creditor = creditor_of(regie)
    if signed_on is None:
        raise DirectDebitError("La date de signature du mandat est obligatoire.",
                               field="signed_on")
    today = today or timezone.localdate()
    if signed_on > today:
        raise DirectDebitError("La date de signature du mandat ne peut pas être dans le "
                               "futur.", field="signed_on")
    if kind not in MandateKind.values:
        raise DirectDebitError("Le type de mandat est « recurrent » (récurrent) ou "
                               "« one_off » (ponctuel).", field="kind")
    fields = {"debtor_name": _text(debtor_name, field="debtor_name",
                                   label="Le nom du débiteur", max_length=NAME_MAX),
              "iban": clean_iban(iban), "bic": clean_bic(bic)}
    with atomic():
        Creditor.objects.select_for_update().get(pk=creditor.pk)  # one RUM at a time
        rum = clean_rum(rum) if rum else _new_rum(creditor, regie, payer)
        if Mandate.objects.filter(rum=rum).exists():
            raise DirectDebitConflict(f"Un mandat de référence {rum} existe déjà : la "
                                      "référence unique du mandat (RUM) ne sert qu'une fois.",
                                      field="rum")
        try:
            with atomic():
                mandate = Mandate.objects.create(
                    regie=regie, payer=payer, rum=rum, signed_on=signed_on, kind=kind,
                    source=source, created_by=actor.account, **fields)
        except IntegrityError:
            raise DirectDebitConflict(f"Un mandat de référence {rum} existe déjà.",
                                      field="rum") from None
        record(actor, MandateRecorded(target=f"mandate:{rum}", data={
            "rum": rum, "payer": payer.name, "kind": mandate.get_kind_display(),
            "iban": mandate.iban_masked}))
    return mandate


def mandate_amend(*, mandate: Mandate, iban: str, bic: str, actor: Actor,
                  debtor_name: str = "", today: datetime.date | None = None) -> Mandate:
    """A new account for the same mandate, given by whoever handles the régie's direct
    debits (``_allowed``); the payer's linked citizen: ``online.mandate_amend_by_payer``."""
    _allowed(mandate.regie, actor, "modifier un mandat de prélèvement")
    return amend(mandate=mandate, iban=iban, bic=bic, actor=actor, debtor_name=debtor_name,
                 today=today)


def _still_active(mandate: Mandate, what: str) -> None:
    if mandate.status != MandateStatus.ACTIVE:
        raise DirectDebitConflict(f"Le mandat {mandate.rum} est {mandate.get_status_display()}"
                                  f" : {what}")


def amend(*, mandate: Mandate, iban: str, bic: str, actor: Actor, debtor_name: str = "",
          today: datetime.date | None = None) -> Mandate:
    """The amendment itself, once whoever asks may: the RUM stays; the next collection
    carries the amendment (the account before, or « SMNDA » when the bank changed:
    sequence FRST)."""
    _still_active(mandate, "il ne peut plus être modifié.")
    new_iban, new_bic = clean_iban(iban), clean_bic(bic)
    with atomic():
        mandate = Mandate.objects.select_for_update().get(pk=mandate.pk)
        _still_active(mandate, "il ne peut plus être modifié.")
        if new_iban == mandate.iban and new_bic == mandate.bic:
            raise DirectDebitError("Le nouvel IBAN est celui du mandat : rien à modifier.",
                                   field="iban")
        if not mandate.amendment_pending:  # the first change since the last collection
            mandate.original_iban, mandate.original_bic = mandate.iban, mandate.bic
        before = mandate.iban_masked
        mandate.iban, mandate.bic = new_iban, new_bic
        if debtor_name:
            mandate.debtor_name = _text(debtor_name, field="debtor_name",
                                        label="Le nom du débiteur", max_length=NAME_MAX)
        mandate.amended_on = today or timezone.localdate()
        # Never collected yet (the first debit is FRST with the new account), or back to
        # the account of the last collection: nothing to announce.
        mandate.amendment_pending = (mandate.last_collected_on is not None
                                     and mandate.iban != mandate.original_iban)
        if not mandate.amendment_pending:
            mandate.original_iban = mandate.original_bic = ""
        mandate.save()
        record(actor, MandateAmended(target=f"mandate:{mandate.rum}", data={
            "rum": mandate.rum, "iban": mandate.iban_masked, "original": before}))
    return mandate


REASON_MAX = 300


def mandate_revoke(*, mandate: Mandate, reason: str, actor: Actor,
                   today: datetime.date | None = None) -> Mandate:
    """An agent (or the business software) revokes the mandate, with why; the payer's
    linked citizen: ``online.mandate_revoke_by_payer``."""
    _allowed(mandate.regie, actor, "révoquer un mandat de prélèvement")
    reason = _text(reason, field="reason", label="Le motif de la révocation",
                   max_length=REASON_MAX)
    return revoke(mandate=mandate, reason=reason, actor=actor, today=today)


def revoke(*, mandate: Mandate, reason: str, actor: Actor,
           today: datetime.date | None = None) -> Mandate:
    """The revocation itself (``reason`` checked), once whoever asks may: never debited
    again; ended today."""
    with atomic():
        mandate = Mandate.objects.select_for_update().get(pk=mandate.pk)
        if mandate.status != MandateStatus.ACTIVE:
            raise DirectDebitConflict(f"Le mandat {mandate.rum} est déjà "
                                      f"{mandate.get_status_display()}.")
        mandate.status = MandateStatus.REVOKED
        mandate.ended_on = today or timezone.localdate()
        mandate.end_reason = reason
        mandate.save()
        record(actor, MandateRevoked(target=f"mandate:{mandate.rum}", data={
            "rum": mandate.rum, "reason": reason}))
    return mandate


def months_before(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 - months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def lapse_unused(*, on: datetime.date, actor: Actor) -> int:
    """Mandates with no collection for 36 months (counted from the signature when never
    used) lapse: the periodic job calls this once a day. Returns how many lapsed."""
    limit = months_before(on, LAPSE_MONTHS)
    stale = Mandate.objects.filter(status=MandateStatus.ACTIVE).filter(
        Q(last_collected_on__lte=limit)
        | Q(last_collected_on__isnull=True, signed_on__lte=limit))
    count = stale.update(status=MandateStatus.LAPSED, ended_on=on,
                         end_reason="36 mois sans prélèvement")
    if count:
        record(actor, MandatesLapsed(target="mandates", data={"count": count}))
    return count


def sequence_of(mandate: Mandate) -> str:
    if mandate.kind == MandateKind.ONE_OFF:
        return SequenceType.ONE_OFF
    if mandate.last_collected_on is None:
        return SequenceType.FIRST
    if mandate.amendment_pending and not same_bank(mandate.original_bic, mandate.bic):
        return SequenceType.FIRST
    return SequenceType.RECURRENT


def collectable(regie: Regie, collection_date: datetime.date):
    """The invoices a collection on ``collection_date`` debits: still owed, due by that
    date, not handed over to the public accountant (a titre is paid to the Treasury), of
    a payer with an active mandate (a one-off one unused), not already in a debit that
    was not returned, and not announced to the family for a later day."""
    live = CollectionLine.objects.filter(invoice=OuterRef("pk")).exclude(
        status=LineStatus.RETURNED)
    return (Invoice.objects.filter(regie=regie, status__in=OWED_STATUSES,
                                   cancelled_at__isnull=True, due_on__lte=collection_date,
                                   handed_over__isnull=True)
            .filter(Exists(_usable_mandates().filter(payer=OuterRef("payer"))))
            .exclude(Exists(live))
            # Announced to the family for a later day: not debited before it.
            .exclude(debit_prenotice__notice__debit_on__gt=collection_date)
            .select_related("payer").order_by("payer_id", "id"))


def _usable_mandates():
    return Mandate.objects.filter(status=MandateStatus.ACTIVE).exclude(
        kind=MandateKind.ONE_OFF, last_collected_on__isnull=False)


def debit_refusal(invoice: Invoice, collection_date: datetime.date) -> str:
    """Why ``invoice`` cannot be debited on ``collection_date``, in French (« » when it
    can): the reasons of ``collectable``, said one by one for a chosen invoice."""
    number = invoice.number
    if invoice.cancelled_at is not None:
        return f"La facture {number} est annulée : elle ne se prélève pas."
    if invoice.total - invoice.amount_paid <= 0:
        return f"La facture {number} est déjà payée : il n'y a rien à prélever."
    item = handed_over(invoice.pk)
    if item is not None:
        return (f"La facture {number} est transmise au comptable public (bordereau "
                f"{item.handover.number}/{item.handover.year}) : elle se paie désormais au "
                "Trésor public et ne se prélève plus.")
    live = (CollectionLine.objects.filter(invoice=invoice).exclude(status=LineStatus.RETURNED)
            .select_related("collection").first())
    if live is not None:
        return (f"La facture {number} est déjà dans la remise de prélèvements du "
                f"{live.collection.collection_date:%d/%m/%Y} : elle n'est jamais prélevée "
                "deux fois.")
    if invoice.due_on > collection_date:
        return (f"La facture {number} est à payer avant le {invoice.due_on:%d/%m/%Y} : elle "
                f"n'est pas encore due au {collection_date:%d/%m/%Y}.")
    if not _usable_mandates().filter(payer_id=invoice.payer_id).exists():
        return (f"Le payeur de la facture {number} n'a pas de mandat de prélèvement SEPA "
                "actif.")
    if not collectable(invoice.regie, collection_date).filter(pk=invoice.pk).exists():
        return (f"La facture {number} a été annoncée à la famille pour un prélèvement plus "
                "tard : elle ne se prélève pas avant la date annoncée.")
    return ""


def collect(*, regie: Regie, collection_date: datetime.date, actor: Actor,
            today: datetime.date | None = None,
            invoices: list[Invoice] | None = None) -> Collection:
    """The collection of ``regie`` on ``collection_date``: its pain.008 file, totals and
    lines, kept. An invoice is debited once (the database holds it to that too).
    ``invoices``: only these (chosen by an agent or the business software); one that
    cannot be debited (paid, handed over, already in a debit…) refuses the collection
    with why (``debit_refusal``)."""
    _allowed(regie, actor, "préparer une remise de prélèvements")
    today = today or timezone.localdate()
    if collection_date < today:
        raise DirectDebitError(f"La date d'échéance {collection_date:%d/%m/%Y} est passée : "
                               "choisissez une date à venir.", field="date")
    if collection_date.weekday() >= 5:
        raise DirectDebitError(f"Le {collection_date:%d/%m/%Y} n'est pas un jour ouvré pour "
                               "les banques (samedi ou dimanche).", field="date")
    creditor = creditor_of(regie)
    with atomic():
        Creditor.objects.select_for_update().get(pk=creditor.pk)  # one collection at a time
        chosen = None
        if invoices is not None:
            for invoice in invoices:
                if invoice.regie_id != regie.pk:
                    raise DirectDebitError(f"La facture {invoice.number} n'est pas une "
                                           f"facture de la régie {regie.number}.",
                                           field="invoices")
                why = debit_refusal(Invoice.objects.get(pk=invoice.pk), collection_date)
                if why:
                    raise DirectDebitError(why, field="invoices")
            chosen = {invoice.pk for invoice in invoices}
        invoices = [i for i in collectable(regie, collection_date)
                    if chosen is None or i.pk in chosen]
        if not invoices:
            raise DirectDebitError(f"Aucune facture à prélever pour la régie {regie.number} "
                                   f"au {collection_date:%d/%m/%Y}.", field="date")
        mandates: dict[int, Mandate] = {}
        for m in _usable_mandates().filter(payer_id__in={i.payer_id for i in invoices}) \
                .order_by("payer_id", "-signed_on", "-id"):
            mandates.setdefault(m.payer_id, m)
        collection = Collection.objects.create(
            regie=regie, collection_date=collection_date,
            message_id=f"pending-{uuid.uuid4().hex[:24]}", ics=creditor.ics, iban=creditor.iban,
            bic=creditor.bic, created_by=actor.account)
        debits, lines = [], []
        for invoice in invoices:
            mandate = mandates[invoice.payer_id]
            sequence = sequence_of(mandate)
            amended = mandate.amendment_pending
            new_bank = amended and not same_bank(mandate.original_bic, mandate.bic)
            e2e = f"{collection.pk}-{invoice.pk}"
            amount = invoice.total - invoice.amount_paid
            debits.append(pain008.Debit(
                end_to_end_id=e2e, amount=amount, sequence_type=sequence, rum=mandate.rum,
                signed_on=mandate.signed_on, debtor_name=mandate.debtor_name,
                iban=mandate.iban, bic=mandate.bic,
                description=f"Facture {invoice.number} {invoice.label}"[:140],
                original_iban=mandate.original_iban if amended and not new_bank else "",
                new_bank=new_bank))
            lines.append(CollectionLine(collection=collection, invoice=invoice,
                                        mandate=mandate, amount=amount, sequence_type=sequence,
                                        end_to_end_id=e2e, iban=mandate.iban, amended=amended))
        written = pain008.write(name=creditor.name, ics=creditor.ics, iban=creditor.iban,
                                bic=creditor.bic, collection_date=collection_date,
                                debits=debits)
        try:
            with atomic():
                CollectionLine.objects.bulk_create(lines)
        except IntegrityError:
            raise DirectDebitConflict("Une de ces factures vient d'être mise dans une autre "
                                      "remise : rien n'a été remis, recommencez.") from None
        collection.message_id = written.message_id
        collection.count, collection.total = written.count, written.total
        collection.xml = written.xml.decode()
        collection.save()
        Mandate.objects.filter(pk__in={m.pk for m in mandates.values()}).update(
            last_collected_on=collection_date, amendment_pending=False, original_iban="",
            original_bic="")
        record(actor, CollectionWritten(target=f"collection:{collection.message_id}", data={
            "message_id": collection.message_id, "regie": regie.number,
            "date": f"{collection_date:%d/%m/%Y}", "count": collection.count,
            "total": str(collection.total)}))
    return collection

