"""What direct debit tells people, by e-mail, once: the pre-notification a family receives
before its account is debited, and the return of a debit (to the family and to the
régie's keepers). Run by the job queue (``direct_debit.tasks``) inside the commune's
schema, after the rows they read are committed.

Once: each notice's row is locked while its e-mail goes and is marked sent in the same
transaction; a second run (a retry, two workers) finds it sent and sends nothing."""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone

from opsn.audit.events import event
from opsn.audit.services import record
from opsn.branding.selectors import current_profile
from opsn.direct_debit.models import (
    CollectionLine,
    Creditor,
    DebitReturn,
    LineStatus,
    Mandate,
    MandateKind,
    MandateStatus,
    NoticeStatus,
    PreNotification,
    PreNotifiedInvoice,
)
from opsn.direct_debit.services import _usable_mandates, collectable
from opsn.kernel.actors import Actor
from opsn.kernel.money import euros
from opsn.kernel.tenancy import atomic
from opsn.regies.errors import RegieError
from opsn.regies.models import Invoice
from opsn.regies.services.mailing import _checked_address, _send, _sender, _signature, keepers

logger = logging.getLogger("opsn.direct_debit")

PreNotificationsPrepared = event("sepa.prenotifications_prepared",
                                 "Pré-notifications de prélèvement de la régie {regie} : "
                                 "{count} famille(s), {invoices} facture(s), {total}")
PreNotificationsSent = event("sepa.prenotifications_sent",
                             "Pré-notifications de prélèvement envoyées : {sent} ; sans "
                             "adresse : {no_address} ; échecs : {failed}")
MandateChangeSent = event("sepa.mandate_change_notice_sent",
                          "Mandat {rum} {change} en ligne par l'usager : courriel aux "
                          "régisseurs ({to})")
ReturnNoticesSent = event("sepa.return_notices_sent",
                          "Avis de prélèvements retournés : {families} famille(s), "
                          "{keepers} message(s) aux régisseurs")

MAX_ATTEMPTS = 5


def bank_day(day: datetime.date) -> datetime.date:
    """The first day from ``day`` the banks debit (not a Saturday or a Sunday)."""
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return day


# --- Pre-notification ---------------------------------------------------------------------

def invoice_notice(invoice, today: datetime.date | None = None) -> str:
    """What the invoice's document says of its debit — the pre-notification of a family
    without an e-mail address (the rulebook allows it on the invoice): the date, the
    account by its last four characters, the mandate and the creditor; « » when no
    mandate will debit it. The date is the collection's when the debit is with the bank,
    else the one the pre-notification announced, else the first the rule allows (the
    due date, never sooner than ``OPSN_SEPA_PRENOTIFICATION_DAYS`` from today)."""
    if invoice.cancelled_at is not None or invoice.total - invoice.amount_paid <= 0:
        return ""
    # Most payers of a régie have no mandate: one query says so (a batch of invoices).
    if not Mandate.objects.filter(payer_id=invoice.payer_id).exists():
        return ""
    creditor = Creditor.objects.filter(regie_id=invoice.regie_id).first()
    if creditor is None:
        return ""
    line = (CollectionLine.objects.filter(invoice=invoice, status=LineStatus.SENT)
            .select_related("collection", "mandate").first())
    if line is not None:
        return _notice_text(line.collection.collection_date, line.mandate, creditor, "le")
    if Invoice.objects.filter(pk=invoice.pk, handed_over__isnull=False).exists():
        return ""
    announced = (PreNotifiedInvoice.objects.filter(invoice=invoice)
                 .select_related("notice").first())
    mandate = (_usable_mandates().filter(payer_id=invoice.payer_id)
               .order_by("-signed_on", "-id").first())
    if mandate is None:
        return ""
    if announced is not None:
        return _notice_text(announced.notice.debit_on, mandate, creditor, "à partir du")
    today = today or timezone.localdate()
    horizon = today + datetime.timedelta(days=settings.OPSN_SEPA_PRENOTIFICATION_DAYS)
    return _notice_text(bank_day(max(invoice.due_on, horizon)), mandate, creditor,
                        "à partir du")


def _notice_text(day: datetime.date, mandate: Mandate, creditor: Creditor, when: str) -> str:
    return (f"Cette facture sera prélevée {when} {day:%d/%m/%Y} sur le compte "
            f"…{mandate.iban[-4:]}, mandat {mandate.rum}, créancier {creditor.ics}. Vous "
            "n'avez rien à faire ; pour payer autrement, contactez la régie avant cette date.")


def prenotifications_prepare(*, on: datetime.date, actor: Actor,
                             days: int | None = None) -> list[int]:
    """The pre-notifications due on ``on``: each invoice a collection would take within
    ``days`` (``OPSN_SEPA_PRENOTIFICATION_DAYS``) and not announced yet, grouped by
    family and debit date. The date announced is the invoice's due date, and never sooner
    than ``days`` from now (a collection does not take it before: ``collectable``).
    Returns the new notices' ids (to send after commit)."""
    days = settings.OPSN_SEPA_PRENOTIFICATION_DAYS if days is None else days
    horizon = on + datetime.timedelta(days=days)
    created: list[int] = []
    for creditor in Creditor.objects.select_related("regie").order_by("regie__number"):
        regie = creditor.regie
        if not regie.is_open_on(on):
            continue
        with atomic():
            invoices = list(collectable(regie, horizon).filter(debit_prenotice__isnull=True)
                            .select_for_update(of=("self",)))
            if not invoices:
                continue
            mandates: dict[int, Mandate] = {}
            for m in (Mandate.objects.filter(status=MandateStatus.ACTIVE,
                                             payer_id__in={i.payer_id for i in invoices})
                      .exclude(kind=MandateKind.ONE_OFF, last_collected_on__isnull=False)
                      .select_related("payer").order_by("payer_id", "-signed_on", "-id")):
                mandates.setdefault(m.payer_id, m)
            groups: dict[tuple[int, datetime.date], list] = defaultdict(list)
            for invoice in invoices:
                debit_on = bank_day(max(invoice.due_on, horizon))
                groups[(invoice.payer_id, debit_on)].append(invoice)
            notices, items = [], []
            for (payer_id, debit_on), group in groups.items():
                mandate = mandates[payer_id]
                amounts = [(i, i.total - i.amount_paid) for i in group]
                notice = PreNotification(
                    mandate=mandate, debit_on=debit_on, rum=mandate.rum, ics=creditor.ics,
                    amount=sum((a for _, a in amounts), Decimal("0.00")),
                    email=(mandate.payer.email or "")[:254])
                notices.append(notice)
                items.append(amounts)
            PreNotification.objects.bulk_create(notices, batch_size=2000)
            PreNotifiedInvoice.objects.bulk_create([
                PreNotifiedInvoice(notice=notice, invoice=invoice, amount=amount)
                for notice, amounts in zip(notices, items, strict=True)
                for invoice, amount in amounts], batch_size=5000)
            created += [n.pk for n in notices]
            record(actor, PreNotificationsPrepared(target=f"regie:{regie.number}", data={
                "regie": regie.number, "count": len(notices), "invoices": len(invoices),
                "total": euros(sum((n.amount for n in notices), Decimal("0.00")))}))
    return created


def _prenotification_message(notice: PreNotification, address: str) -> EmailMessage:
    brand = current_profile()
    mandate = notice.mandate
    regie = mandate.regie
    lines = "\n".join(f"  - facture n° {item.invoice.number} : {euros(item.amount)}"
                      for item in notice.items.select_related("invoice").order_by("invoice_id"))
    body = (f"Bonjour,\n\n"
            f"La régie « {regie.name} » de {brand.display_name} prélèvera "
            f"{euros(notice.amount)} sur votre compte {mandate.iban_masked}, au nom de "
            f"{mandate.debtor_name}, à partir du {notice.debit_on:%d/%m/%Y} :\n{lines}\n\n"
            f"Mandat de prélèvement SEPA (RUM) : {notice.rum}\n"
            f"Identifiant créancier SEPA (ICS) : {notice.ics}\n\n"
            "Vous n'avez rien à faire. Si le montant vous semble erroné, ou pour payer "
            "autrement, contactez la régie avant cette date.\n\n"
            f"{_signature(brand)}\n")
    return EmailMessage(subject=f"Prélèvement SEPA du {notice.debit_on:%d/%m/%Y} — "
                                f"{brand.display_name}",
                        body=body, from_email=_sender(brand), to=[address],
                        reply_to=[brand.email] if brand.email else None)


def prenotifications_send(notice_ids: list[int], actor: Actor) -> dict[str, int]:
    """E-mail each pre-notification of ``notice_ids`` still to send, once. Returns the
    counts by outcome (``sent``, ``no_address``, ``failed``, ``skipped``)."""
    counts = {"sent": 0, "no_address": 0, "failed": 0, "skipped": 0}
    for pk in sorted(set(notice_ids)):
        counts[_send_notice(pk)] += 1
    if counts["sent"] or counts["failed"] or counts["no_address"]:
        record(actor, PreNotificationsSent(target="sepa-prenotifications", data=counts))
    return counts


def _send_notice(pk: int) -> str:
    with atomic():
        notice = (PreNotification.objects.select_for_update(skip_locked=True, of=("self",))
                  .select_related("mandate__regie", "mandate__payer")
                  .filter(pk=pk, status__in=[NoticeStatus.PENDING, NoticeStatus.FAILED],
                          attempts__lt=MAX_ATTEMPTS).first())
        if notice is None:
            return "skipped"  # sent, being sent by another worker, or given up
        notice.attempts += 1
        try:
            address = _checked_address(notice.mandate.payer.email or notice.email,
                                       notice.mandate.payer.name, "l'avis de prélèvement")
        except RegieError as exc:
            notice.status, notice.error = NoticeStatus.NO_ADDRESS, exc.message[:300]
            notice.save(update_fields=["status", "error", "attempts"])
            return "no_address"
        try:
            _send(_prenotification_message(notice, address), address)
        except RegieError as exc:
            notice.status, notice.error = NoticeStatus.FAILED, exc.message[:300]
            notice.save(update_fields=["status", "error", "attempts"])
            return "failed"
        notice.status, notice.error, notice.email = NoticeStatus.SENT, "", address
        notice.sent_at = timezone.now()
        notice.save(update_fields=["status", "error", "email", "sent_at", "attempts"])
    return "sent"


def prenotifications_to_retry() -> list[int]:
    return list(PreNotification.objects.filter(
        status__in=[NoticeStatus.PENDING, NoticeStatus.FAILED],
        attempts__lt=MAX_ATTEMPTS).values_list("pk", flat=True)[:5000])


# --- Returns ------------------------------------------------------------------------------

def _family_message(item: DebitReturn, address: str) -> EmailMessage:
    brand = current_profile()
    line = item.line
    invoice, mandate = line.invoice, line.mandate
    invoice.refresh_from_db()
    suspended = mandate.status == MandateStatus.SUSPENDED
    body = (f"Bonjour,\n\n"
            f"Le prélèvement de {euros(line.amount)} du "
            f"{line.collection.collection_date:%d/%m/%Y} pour la facture n° {invoice.number} "
            f"(régie « {line.collection.regie.name} » de {brand.display_name}) n'a pas pu être "
            f"effectué : votre banque l'a rejeté ou retourné ({item.reason_label}, code "
            f"{item.reason_code}).\n\n"
            f"La facture est de nouveau à payer : {euros(invoice.remaining)}. Vous pouvez la "
            "payer en ligne, au guichet de la régie ou par virement ; sinon, elle sera "
            "présentée à un prochain prélèvement.\n"
            + (f"\nAprès deux prélèvements rejetés, votre mandat {mandate.rum} est suspendu : "
               "contactez la régie pour le réactiver ou en signer un nouveau.\n"
               if suspended else "")
            + f"\n{_signature(brand)}\n")
    return EmailMessage(subject=f"Prélèvement rejeté, facture n° {invoice.number} — "
                                f"{brand.display_name}",
                        body=body, from_email=_sender(brand), to=[address],
                        reply_to=[brand.email] if brand.email else None)


def _keepers_message(regie, items: list[DebitReturn], to: list[str]) -> EmailMessage:
    brand = current_profile()
    lines = "\n".join(
        f"  - {i.line.end_to_end_id} : {i.line.invoice.payer.name}, facture "
        f"{i.line.invoice.number}, {euros(i.line.amount)} — {i.reason_code} "
        f"({i.reason_label})"
        + (f", quittance {i.reversal.receipt} d'annulation" if i.reversal else "")
        + (", mandat suspendu" if i.line.mandate.status == MandateStatus.SUSPENDED else "")
        for i in items)
    body = (f"Bonjour,\n\n"
            f"La banque a rejeté ou retourné {len(items)} prélèvement(s) de la régie "
            f"« {regie.name} » :\n{lines}\n\n"
            "Les paiements sont annulés dans le journal et les factures de nouveau à payer ; "
            "les familles sont prévenues par courriel.\n\n"
            f"{_signature(brand)}\n")
    return EmailMessage(subject=f"Prélèvements rejetés — régie {regie.number}", body=body,
                        from_email=_sender(brand), to=to)


def returns_notify(return_ids: list[int], actor: Actor) -> dict[str, int]:
    """Tell each family its returned debit, and each régie's keepers its returns, once.
    A family without an address is left out (the agents see the return on its page)."""
    counts = {"families": 0, "keepers": 0, "failed": 0}
    by_regie: dict[int, list[DebitReturn]] = defaultdict(list)
    for pk in sorted(set(return_ids)):
        with atomic():
            item = (DebitReturn.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("line__collection__regie", "line__invoice__payer",
                                    "line__mandate", "reversal")
                    .filter(pk=pk).first())
            if item is None:
                continue
            if item.keepers_notified_at is None:
                by_regie[item.line.collection.regie_id].append(item)
            payer = item.line.invoice.payer
            if item.family_notified_at is not None or not payer.email:
                continue
            try:
                address = _checked_address(payer.email, payer.name, "l'avis")
                _send(_family_message(item, address), address)
            except RegieError as exc:
                logger.warning("debit return %s: family not told: %s", pk, exc.message)
                counts["failed"] += 1
                continue
            item.family_notified_at = timezone.now()
            item.save(update_fields=["family_notified_at"])
            counts["families"] += 1
    today = timezone.localdate()
    for items in by_regie.values():
        regie = items[0].line.collection.regie
        to = keepers(regie, today)
        with atomic():
            fresh = list(DebitReturn.objects.select_for_update(skip_locked=True)
                         .filter(pk__in=[i.pk for i in items], keepers_notified_at__isnull=True)
                         .values_list("pk", flat=True))
            items = [i for i in items if i.pk in fresh]
            if not items or not to:
                continue
            try:
                _send(_keepers_message(regie, items, to), ", ".join(to))
            except RegieError:
                counts["failed"] += 1
                continue
            DebitReturn.objects.filter(pk__in=fresh).update(keepers_notified_at=timezone.now())
            counts["keepers"] += 1
    if counts["families"] or counts["keepers"]:
        record(actor, ReturnNoticesSent(target="sepa-returns", data=counts))
    return counts


# --- A mandate revoked or amended online by the payer --------------------------------------

def _change_message(mandate: Mandate, change: str, to: list[str]) -> EmailMessage:
    brand = current_profile()
    regie, payer = mandate.regie, mandate.payer
    if change == "revoked":
        subject = f"Mandat {mandate.rum} révoqué en ligne — régie {regie.number}"
        what = (f"{payer.name} a révoqué en ligne, le {mandate.ended_on:%d/%m/%Y}, le mandat "
                f"de prélèvement {mandate.rum} (compte {mandate.iban_masked}).\n"
                f"Motif : {mandate.end_reason}.\n\n"
                "Ses factures ne seront plus prélevées : elles se paient autrement (en ligne, "
                "au guichet, par virement). Un prélèvement déjà remis à la banque peut encore "
                "être débité.")
    else:
        subject = f"Mandat {mandate.rum} : nouveau compte saisi en ligne — régie {regie.number}"
        what = (f"{payer.name} a changé en ligne, le {mandate.amended_on:%d/%m/%Y}, le compte "
                f"du mandat de prélèvement {mandate.rum} : nouveau compte "
                f"{mandate.iban_masked}.\n\n"
                "La référence du mandat (RUM) reste la même ; la prochaine remise de "
                "prélèvements annonce la modification à la banque.")
    body = f"Bonjour,\n\n{what}\n\n{_signature(brand)}\n"
    return EmailMessage(subject=subject, body=body, from_email=_sender(brand), to=to)


def mandate_change_notify(mandate_id: int, change: str, actor: Actor) -> bool:
    """E-mail the régie's keepers (its titulaire, and a suppléant standing in) that the
    payer revoked ``mandate_id`` or gave it a new account online: one message. False when
    it could not be sent (the job tries again); a régie without a keeper's address is
    left out (the agents see the change on the mandate's page)."""
    mandate = (Mandate.objects.select_related("regie", "payer").filter(pk=mandate_id)
               .first())
    if mandate is None:
        return True
    to = keepers(mandate.regie, timezone.localdate())
    if not to:
        return True
    try:
        _send(_change_message(mandate, change, to), ", ".join(to))
    except RegieError:
        return False
    record(actor, MandateChangeSent(target=f"mandate:{mandate.rum}", data={
        "rum": mandate.rum, "change": "révoqué" if change == "revoked" else "modifié",
        "to": ", ".join(to)}))
    return True
