"""Reminders (relances) of unpaid invoices. Each régie has a schedule: the days after the
due date of its first, second (and third) reminder; without one, 15 and 30 days
(``DEFAULT_REMINDER_DELAYS``). The daily job (``opsn.finance.tasks``) sends each reminder
due, once per invoice and level (a unique row, taken under a lock): by e-mail with the
invoice's PDF when the payer has an address and accepts e-mails, otherwise as a letter in
the commune's colours (typeset by the invoices' Typst renderer), gathered per régie and
run into one PDF for the agents to print and post.

What stops them: the invoice paid in full or cancelled (no longer « past due »), contested
(``invoice_contest``: an agent marks it, with the reason), or handed over to the public
accountant (``finance.handover``: the family then pays the Trésor public). The one home of
that rule is ``remindable``. Run inside the commune's schema."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.core.mail import EmailMessage
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from opsn.agents.models import Role
from opsn.agents.selectors import roles_of
from opsn.audit import events
from opsn.audit.services import record
from opsn.finance.errors import FinanceError
from opsn.finance.models import (
    DEFAULT_REMINDER_DELAYS,
    MAX_REMINDER_DELAY,
    MAX_REMINDER_LEVELS,
    HandedOverInvoice,
    InvoiceContest,
    InvoiceReminder,
    ReminderChannel,
    ReminderLetterBatch,
    ReminderSchedule,
    ReminderStatus,
)
from opsn.finance.selectors import contested
from opsn.kernel.actors import Actor
from opsn.kernel.money import euros
from opsn.kernel.tenancy import atomic, commune_connection
from opsn.regies.errors import RegieError
from opsn.regies.invoice_documents import Renderer, pay_url, with_documents
from opsn.regies.models import Invoice, PaymentMode, Regie
from opsn.regies.models.payers import OWED_STATUSES, InvoiceQuerySet
from opsn.regies.permissions import require_keeper
from opsn.regies.services.mailing import _checked_address, _send, _sender, _signature
from opsn.regies.typesetting import typeset

logger = logging.getLogger("opsn.finance")

# An e-mail that fails is tried again by the next runs; after this many, a letter goes.
EMAIL_ATTEMPTS = 3
LETTERS = "reminder-letters.typ"  # regies/typst/: the invoices' typesetter, one renderer
LEVEL_NAMES = {1: "première relance", 2: "deuxième relance", 3: "troisième relance"}


# --- The schedule ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Schedule:
    enabled: bool
    delays: tuple[int, ...]
    is_default: bool = False

    def describe(self) -> str:
        if not self.enabled:
            return "aucune relance"
        days = [f"{d} jours" for d in self.delays]
        return ("relances " + ", ".join(days[:-1]) + (" et " if len(days) > 1 else "")
                + days[-1] + " après l'échéance")


def schedule_of(regie: Regie) -> Schedule:
    found = ReminderSchedule.objects.filter(regie=regie).first()
    if found is None:
        return Schedule(True, DEFAULT_REMINDER_DELAYS, is_default=True)
    return Schedule(found.enabled, tuple(found.delays))


def checked_delays(values) -> tuple[int, ...]:
    """The delays as typed (first, second, third; blanks are levels not used): whole
    numbers of days from 1 to 365, strictly increasing, the first one given."""
    names = ("première", "deuxième", "troisième")
    fields = ("first", "second", "third")
    typed = [("" if v is None else str(v)).strip().replace("\x00", "") for v in values]
    if len(typed) > MAX_REMINDER_LEVELS:
        raise FinanceError(f"Au plus {MAX_REMINDER_LEVELS} relances.", field="first")
    delays: list[int] = []
    for i, text in enumerate(typed):
        if not text:
            continue
        if not text.isdigit() or len(text) > 4 or not 1 <= int(text) <= MAX_REMINDER_DELAY:
            raise FinanceError(f"Délai de la {names[i]} relance : un nombre de jours entre 1 "
                               f"et {MAX_REMINDER_DELAY} (« {text[:20]} » ne convient pas).",
                               field=fields[i])
        if len(delays) < i:
            raise FinanceError(f"Donnez le délai de la {names[len(delays)]} relance avant "
                               f"celui de la {names[i]}.", field=fields[len(delays)])
        if delays and int(text) <= delays[-1]:
            raise FinanceError(f"La {names[i]} relance doit venir après la {names[i - 1]} "
                               f"({delays[-1]} jours après l'échéance) : donnez un délai plus "
                               "long.", field=fields[i])
        delays.append(int(text))
    if not delays:
        raise FinanceError("Donnez au moins le délai de la première relance (en jours après "
                           "l'échéance), ou désactivez les relances.", field="first")
    return tuple(delays)


def _require_manager(regie: Regie, actor: Actor, what: str) -> None:
    """The régie's titulaire (its suppléant standing in), the commune's administrator or
    its finance staff; the job acts as the system."""
    if actor.kind == "system" or roles_of(actor.account) & {Role.ADMINISTRATOR, Role.FINANCE}:
        return
    require_keeper(regie, actor, timezone.localdate(),
                   f"{what} (ou l'administrateur, le service financier)")


@atomic
def reminder_schedule_save(*, regie: Regie, actor: Actor, enabled: bool,
                           delays) -> ReminderSchedule:
    _require_manager(regie, actor, "modifier les relances de la régie")
    checked = checked_delays(delays)
    schedule, _ = ReminderSchedule.objects.update_or_create(
        regie=regie, defaults={"enabled": bool(enabled), "delays": list(checked),
                               "updated_by": actor.account[:254]})
    record(actor, events.ReminderScheduleSaved(target=f"regie:{regie.pk}", data={
        "regie": regie.number,
        "schedule": Schedule(bool(enabled), checked).describe()}))
    return schedule


# --- Contesting an invoice ------------------------------------------------------------------

def open_contest(invoice: Invoice) -> InvoiceContest | None:
    return InvoiceContest.objects.filter(invoice=invoice, lifted_at__isnull=True).first()


def _reason(value: str, what: str) -> str:
    text = (value or "").replace("\x00", "").strip()
    if not text:
        raise FinanceError(f"Indiquez {what}.", field="reason")
    if len(text) > 300:
        raise FinanceError(f"{what.capitalize()} : 300 caractères au plus ({len(text)} "
                           "saisis).", field="reason")
    return text


@atomic
def invoice_contest(*, invoice: Invoice, actor: Actor, reason: str) -> InvoiceContest:
    """Mark the invoice contested by its payer: no reminder goes until it is lifted."""
    _require_manager(invoice.regie, actor, "marquer une facture contestée")
    text = _reason(reason, "le motif de la contestation")
    Invoice.objects.select_for_update().filter(pk=invoice.pk).first()
    if open_contest(invoice) is not None:
        raise FinanceError(f"La facture {invoice.number} est déjà contestée.", field="reason")
    if invoice.status not in OWED_STATUSES:
        raise FinanceError(f"La facture {invoice.number} ne doit plus rien : rien à "
                           "contester.", field="reason")
    contest = InvoiceContest.objects.create(invoice=invoice, reason=text,
                                            contested_at=timezone.now(),
                                            contested_by=actor.account[:254])
    record(actor, events.InvoiceContested(target=f"invoice:{invoice.number}", data={
        "number": invoice.number, "reason": text}))
    return contest


@atomic
def invoice_contest_lift(*, invoice: Invoice, actor: Actor, reason: str) -> InvoiceContest:
    """The contest settled: reminders resume where they stood."""
    _require_manager(invoice.regie, actor, "lever la contestation d'une facture")
    text = _reason(reason, "l'issue de la contestation")
    contest = (InvoiceContest.objects.select_for_update()
               .filter(invoice=invoice, lifted_at__isnull=True).first())
    if contest is None:
        raise FinanceError(f"La facture {invoice.number} n'est pas contestée.", field="reason")
    contest.lifted_at, contest.lifted_by = timezone.now(), actor.account[:254]
    contest.lift_reason = text
    contest.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    record(actor, events.InvoiceContestLifted(target=f"invoice:{invoice.number}", data={
        "number": invoice.number, "reason": text}))
    return contest


# --- What is to remind ----------------------------------------------------------------------

def remindable(invoices: InvoiceQuerySet, on: datetime.date) -> QuerySet:
    """The invoices a reminder may concern on ``on``: past due and still owed
    (``past_due``: neither paid in full nor cancelled), not contested, not handed over to
    the public accountant. The one home of what stops reminders."""
    return (invoices.past_due(on)
            .filter(~Exists(HandedOverInvoice.objects.filter(invoice=OuterRef("pk"))))
            .filter(~contested()))


@dataclass
class Due:
    """A reminder to make today: the invoice, its level, by which channel."""

    invoice: Invoice
    level: int
    channel: str
    retry: InvoiceReminder | None = None  # the failed e-mail of this level, tried again


def channel_of(invoice: Invoice) -> str:
    payer = invoice.payer
    return (ReminderChannel.EMAIL if payer.email and payer.invoices_by_email
            else ReminderChannel.LETTER)


def due_reminders(regie: Regie, on: datetime.date) -> list[Due]:
    """Each invoice of ``regie`` that calls for a reminder on ``on``: the next level whose
    delay has passed since the due date, and (when catching up) at least the gap between
    the two delays since the previous one; a failed e-mail is tried again, by letter after
    ``EMAIL_ATTEMPTS``. One reminder per invoice and run."""
    schedule = schedule_of(regie)
    if not schedule.enabled:
        return []
    delays = schedule.delays
    invoices = list(with_documents(remindable(Invoice.objects.filter(regie=regie), on)
                                   .filter(days_late__gte=delays[0]))
                    .order_by("due_on", "number"))
    done: dict[int, list[InvoiceReminder]] = {}
    for row in InvoiceReminder.objects.filter(invoice__in=[i.pk for i in invoices]):
        done.setdefault(row.invoice_id, []).append(row)
    found = []
    for invoice in invoices:
        rows = sorted(done.get(invoice.pk, []), key=lambda r: r.level)
        last = rows[-1] if rows else None
        if last is not None and last.status == ReminderStatus.FAILED:
            channel = (ReminderChannel.LETTER if last.attempts >= EMAIL_ATTEMPTS
                       else channel_of(invoice))
            found.append(Due(invoice, last.level, channel, retry=last))
            continue
        level = (last.level if last else 0) + 1
        late = invoice.days_late  # type: ignore[attr-defined]  # past_due's
        if level > len(delays) or late < delays[level - 1]:
            continue
        if last is not None and (on - last.made_on).days < delays[level - 1] - delays[level - 2]:
            continue
        found.append(Due(invoice, level, channel_of(invoice)))
    return found


# --- Sending ---------------------------------------------------------------------------------

def _lock(key: str) -> None:
    with commune_connection().cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                       [f"finance.reminder:{commune_connection().schema_name}:{key}"])


def _still_remindable(invoice: Invoice, on: datetime.date) -> Decimal | None:
    """Read again under the lock: what the invoice still owes, or None when a payment, a
    cancellation, a contest or a hand-over came meanwhile."""
    found = remindable(Invoice.objects.filter(pk=invoice.pk), on).values_list(
        "owed", flat=True).first()
    return found if found is not None and found > 0 else None


def _taken(invoice: Invoice, level: int) -> InvoiceReminder | None:
    """The row of this level, if one stands already and is not a failed e-mail to retry."""
    row = InvoiceReminder.objects.filter(invoice=invoice, level=level).first()
    return row if row is not None and row.status != ReminderStatus.FAILED else None


def _email_message(invoice: Invoice, level: int, owed: Decimal, address: str,
                   renderer: Renderer) -> EmailMessage:
    brand, regie, payer = renderer.brand, invoice.regie, invoice.payer
    modes = set(regie.accepted_modes)
    online = (pay_url(invoice.number, renderer.domain) if renderer.domain
              and PaymentMode.ONLINE in modes else "")
    counter = [PaymentMode(m).label for m in (PaymentMode.CASH, PaymentMode.CHEQUE,
                                              PaymentMode.CARD) if m in modes]
    body = (f"Bonjour,\n\n"
            f"Sauf erreur de notre part, la facture n° {invoice.number} de "
            f"{euros(invoice.total)}, au nom de {payer.name}, de la régie « {regie.name} » de "
            f"{brand.display_name}" + (f" ({invoice.label})" if invoice.label else "")
            + f", à payer avant le {invoice.due_on:%d/%m/%Y}, n'est pas réglée.\n\n"
            f"Reste à payer : {euros(owed)}. Merci de la régler dès réception de ce message "
            f"({LEVEL_NAMES.get(level, f'relance n° {level}')}).\n\n"
            + (f"Payer en ligne, sans compte : {online} , avec le numéro de facture "
               f"{invoice.number} et votre code de rattachement {payer.link_code}.\n"
               if online else "")
            + (f"Au guichet de la régie ({', '.join(counter)})"
               + (f", horaires : {regie.counter_hours}" if regie.counter_hours else "")
               + ".\n" if counter else "")
            + "La facture ci-jointe dit aussi comment payer par virement.\n\n"
              "Si vous avez payé entre-temps, ne tenez pas compte de ce message. Si vous "
              "contestez cette somme, répondez à ce courriel.\n\n"
            f"{_signature(brand)}\n")
    message = EmailMessage(subject=f"Relance : facture n° {invoice.number} — "
                                   f"{brand.display_name}",
                           body=body, from_email=_sender(brand), to=[address],
                           reply_to=[brand.email] if brand.email else None)
    message.attach(f"facture-{invoice.number}.pdf", renderer.invoice_pdf(invoice),
                   "application/pdf")
    return message


def _how(row: InvoiceReminder) -> str:
    return (f"courriel à {row.to}" if row.channel == ReminderChannel.EMAIL
            else "courrier à imprimer")


def reminder_email(*, due: Due, actor: Actor, renderer: Renderer,
                   on: datetime.date) -> str:
    """One reminder by e-mail, once: ``sent``, ``failed`` (the error kept on the invoice,
    tried again by the next run) or ``skipped`` (done meanwhile, or nothing owed now)."""
    invoice, level = due.invoice, due.level
    with atomic():
        _lock(f"{invoice.pk}")
        owed = _still_remindable(invoice, on)
        if owed is None or _taken(invoice, level) is not None:
            return "skipped"
        row = (InvoiceReminder.objects.filter(invoice=invoice, level=level).first()
               or InvoiceReminder(invoice=invoice, level=level, attempts=0))
        now = timezone.now()
        row.channel, row.owed, row.made_on, row.attempted_at = (ReminderChannel.EMAIL, owed,
                                                                on, now)
        row.attempts += 1
        payer = invoice.payer
        try:
            address = _checked_address(payer.email, payer.name, "la relance")
            row.to = address
            _send(_email_message(invoice, level, owed, address, renderer), address)
        except RegieError as exc:
            row.to, row.status, row.error = payer.email[:254], ReminderStatus.FAILED, \
                exc.message[:500]
            row.save()
            record(actor, events.InvoiceReminderFailed(
                target=f"invoice:{invoice.number}", data={
                    "level": level, "number": invoice.number, "to": row.to,
                    "error": exc.message[:200]}))
            return "failed"
        row.status, row.error, row.sent_at = ReminderStatus.SENT, "", now
        row.save()
        record(actor, events.InvoiceReminded(target=f"invoice:{invoice.number}", data={
            "level": level, "number": invoice.number, "owed": euros(owed).removesuffix(" €"),
            "how": _how(row)}))
    return "sent"


def letter_data(renderer: Renderer, invoice: Invoice, level: int, owed: Decimal,
                on: datetime.date, last: bool) -> dict:
    """The values of one letter: the invoice's (its page follows the letter) and the
    reminder's."""
    return {**renderer.invoice_data(invoice), "reminder": {
        "level": str(level), "title": LEVEL_NAMES.get(level, f"relance n° {level}"),
        "date": f"{on:%d/%m/%Y}", "owed": euros(owed), "last": last,
        "city": renderer.brand.city}}


def reminder_letters(*, regie: Regie, dues: list[Due], actor: Actor, renderer: Renderer,
                     on: datetime.date) -> ReminderLetterBatch | None:
    """The letters of this run for ``regie``: recorded and typeset as one PDF, all or
    nothing (a failure leaves nothing recorded; the next run makes them)."""
    if not dues:
        return None
    last_level = len(schedule_of(regie).delays)
    with atomic():
        _lock(f"letters:{regie.pk}")
        made = []
        for due in dues:
            _lock(f"{due.invoice.pk}")
            owed = _still_remindable(due.invoice, on)
            if owed is None or _taken(due.invoice, due.level) is not None:
                continue
            made.append((due, owed))
        if not made:
            return None
        pdf = typeset(LETTERS, [letter_data(renderer, due.invoice, due.level, owed, on,
                                            due.level >= last_level) for due, owed in made])
        batch = ReminderLetterBatch.objects.create(regie=regie, made_on=on, count=len(made),
                                                   file=pdf)
        now = timezone.now()
        for due, owed in made:
            row = (InvoiceReminder.objects.filter(invoice=due.invoice, level=due.level).first()
                   or InvoiceReminder(invoice=due.invoice, level=due.level, attempts=0))
            row.channel, row.status, row.owed, row.made_on = (ReminderChannel.LETTER,
                                                              ReminderStatus.TO_PRINT, owed, on)
            row.attempted_at, row.sent_at, row.letters, row.error = now, None, batch, ""
            row.attempts += 1
            row.to = ""  # a letter: the address is the payer's, kept there only
            row.save()
            record(actor, events.InvoiceReminded(
                target=f"invoice:{due.invoice.number}", data={
                    "level": due.level, "number": due.invoice.number,
                    "owed": euros(owed).removesuffix(" €"), "how": _how(row)}))
        record(actor, events.ReminderLettersMade(target=f"regie:{regie.pk}", data={
            "regie": regie.number, "count": len(made)}))
    return batch


def reminders_send(*, regie: Regie, actor: Actor, on: datetime.date | None = None,
                   renderer: Renderer | None = None) -> dict[str, int]:
    """The run of one régie: its due reminders by e-mail, then its letters as one batch.
    Returns the counts by outcome. Safe to run twice: a reminder goes once."""
    on = on or timezone.localdate()
    renderer = renderer or Renderer()
    counts = {"sent": 0, "failed": 0, "skipped": 0, "letters": 0}
    dues = due_reminders(regie, on)
    for due in dues:
        if due.channel == ReminderChannel.EMAIL:
            counts[reminder_email(due=due, actor=actor, renderer=renderer, on=on)] += 1
    batch = reminder_letters(regie=regie, actor=actor, renderer=renderer, on=on,
                             dues=[d for d in dues if d.channel == ReminderChannel.LETTER])
    counts["letters"] = batch.count if batch else 0
    return counts


def open_regies(on: datetime.date) -> QuerySet[Regie]:
    return (Regie.objects.filter(starts_on__lte=on, merged_into__isnull=True)
            .filter(Q(ends_on__isnull=True) | Q(ends_on__gt=on)).order_by("number"))


@atomic
def letters_printed(*, batch: ReminderLetterBatch, actor: Actor) -> ReminderLetterBatch:
    """The agent says the batch's letters are printed and posted."""
    _require_manager(batch.regie, actor, "marquer des courriers de relance imprimés")
    batch = ReminderLetterBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.printed_at is None:
        batch.printed_at, batch.printed_by = timezone.now(), actor.account[:254]
        batch.save(update_fields=["printed_at", "printed_by"])
        record(actor, events.ReminderLettersPrinted(target=f"regie:{batch.regie_id}", data={
            "regie": batch.regie.number, "made_on": f"{batch.made_on:%d/%m/%Y}",
            "count": batch.count}))
    return batch


# --- Reading them ----------------------------------------------------------------------------

def reminders_of(invoice_ids) -> dict[int, list[InvoiceReminder]]:
    """The reminders of these invoices, by invoice, in their order (the invoice's page,
    the family's « Mes paiements »)."""
    found: dict[int, list[InvoiceReminder]] = {}
    for row in InvoiceReminder.objects.filter(invoice__in=list(invoice_ids)).order_by(
            "invoice", "level"):
        found.setdefault(row.invoice_id, []).append(row)
    return found


def family_label(row: InvoiceReminder) -> str:
    """What the family reads of a reminder."""
    what = f"Relance n° {row.level} du {row.made_on:%d/%m/%Y}"
    if row.channel == ReminderChannel.EMAIL:
        return what + (" par courriel" if row.status == ReminderStatus.SENT
                       else " (courriel non parvenu)")
    return what + " par courrier"
