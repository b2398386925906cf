"""The régies' e-mails: a receipt or an invoice to its payer, and the warnings of the daily
job to whoever keeps a régie. Run inside the commune's schema.

They leave from the platform's address (``DEFAULT_FROM_EMAIL``, as billing sends its
invoices: the one address the operator's mail domain authenticates), under the commune's
sender name, and replies go to the commune's contact address: the payer hears from their
commune, and no commune can send as another."""

from __future__ import annotations

import datetime
import logging
import smtplib
from email.headerregistry import Address
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.utils import timezone

from opsn.audit import events
from opsn.audit.models import AuditEvent
from opsn.audit.services import record
from opsn.branding.models import CommuneProfile
from opsn.branding.selectors import current_profile
from opsn.kernel.actors import Actor
from opsn.kernel.money import euros
from opsn.kernel.tenancy import atomic, commune_connection
from opsn.regies import selectors
from opsn.regies.documents import receipt_pdf
from opsn.regies.errors import RegieError
from opsn.regies.invoice_documents import Renderer, pay_url, with_documents
from opsn.regies.models import (
    Assignment,
    AssignmentRole,
    Invoice,
    InvoiceMailing,
    LedgerEntry,
    MailingStatus,
    PaymentMode,
    Regie,
    StandIn,
)

logger = logging.getLogger("opsn.regies")

# The warnings worth an e-mail: both stop or endanger the régie until a deposit is made.
# (« cash_limit_near » stays on the agents' pages.)
MAILED_WARNINGS = {"deposit_overdue": "versement en retard",
                   "cash_limit_reached": "encaisse maximale atteinte"}


def _sender(brand: CommuneProfile) -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL
    return str(Address(display_name=brand.email_sender_name or brand.display_name,
                       addr_spec=address))


def _signature(brand: CommuneProfile) -> str:
    contact = " · ".join(x for x in (brand.email, brand.phone) if x)
    return brand.display_name + (f"\n{contact}" if contact else "")


def _send(message: EmailMessage, to: str) -> None:
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("mail to %s not sent: %s", to, exc)
        raise RegieError(f"Le courriel à {to} n'a pas pu être envoyé (serveur de messagerie "
                         "indisponible) : réessayez plus tard.", field="to") from exc


def _checked_address(value: str, who: str, what: str = "la quittance") -> str:
    address = (value or "").strip()
    if not address:
        raise RegieError(f"{who} n'a pas d'adresse électronique : indiquez celle où envoyer "
                         f"{what}.", field="to")
    try:
        validate_email(address)
    except ValidationError:
        raise RegieError(f"« {address} » n'est pas une adresse électronique valide.",
                         field="to") from None
    return address


def receipt_email(*, entry: LedgerEntry, actor: Actor, to: str | None = None) -> str:
    """E-mail the receipt PDF to ``to``, by default to the payer's address; returns the
    address it went to. Which agents may send it is for the interfaces to check (the
    receipt is theirs to hand over already)."""

    if to is None:
        to = entry.payer.email if entry.payer_id and entry.payer else ""
    address = _checked_address(to, entry.payer_name or "Le payeur")
    brand = current_profile()
    regie = entry.regie
    posted = timezone.localtime(entry.posted_at)
    if entry.reverses_id:
        what = (f"la quittance d'annulation n° {entry.receipt} (annule la quittance "
                f"{entry.reverses.receipt if entry.reverses else ''}), de {euros(entry.amount)}")
    else:
        what = f"la quittance n° {entry.receipt} de {euros(entry.amount)}"
    body = (f"Bonjour,\n\n"
            f"Veuillez trouver ci-joint {what} ({PaymentMode(entry.mode).label}), du "
            f"{posted:%d/%m/%Y}, au nom de {entry.payer_name}, de la régie "
            f"« {regie.name} » de {brand.display_name}.\n\n"
            f"Conservez-la : elle fait foi de votre paiement.\n\n"
            f"{_signature(brand)}\n")
    message = EmailMessage(subject=f"Quittance n° {entry.receipt} — {brand.display_name}",
                           body=body, from_email=_sender(brand), to=[address],
                           reply_to=[brand.email] if brand.email else None)
    message.attach(f"quittance-{entry.receipt}.pdf", receipt_pdf(entry), "application/pdf")
    _send(message, address)
    record(actor, events.ReceiptEmailed(target=f"entry:{entry.pk}", data={
        "receipt": entry.receipt, "to": address, "regie": regie.number}))
    return address


def _invoice_message(invoice: Invoice, address: str, renderer: Renderer) -> EmailMessage:
    brand = renderer.brand
    regie = invoice.regie
    online = (pay_url(invoice.number, renderer.domain) if renderer.domain
              and PaymentMode.ONLINE in regie.accepted_modes else "")
    body = (f"Bonjour,\n\n"
            f"Veuillez trouver ci-jointe la facture n° {invoice.number} de "
            f"{euros(invoice.total)}, au nom de {invoice.payer.name}, de la régie "
            f"« {regie.name} » de {brand.display_name}"
            + (f" ({invoice.label})" if invoice.label else "") + ".\n\n"
            f"Reste à payer : {euros(invoice.remaining)}, avant le {invoice.due_on:%d/%m/%Y}.\n"
            + (f"Payer en ligne, sans compte : {online}\n" if online else "")
            + "La facture dit aussi comment payer au guichet ou par virement, et donne votre "
              "code de rattachement à « Mes paiements ».\n\n"
            f"{_signature(brand)}\n")
    message = EmailMessage(subject=f"Facture n° {invoice.number} — {brand.display_name}",
                           body=body, from_email=_sender(brand), to=[address],
                           reply_to=[brand.email] if brand.email else None)
    message.attach(f"facture-{invoice.number}.pdf", renderer.invoice_pdf(invoice),
                   "application/pdf")
    return message


def _mailing_lock(invoice: Invoice) -> None:
    """Two jobs (a retry, a second worker) or an agent at the same time: one at a time
    per invoice, in the caller's transaction."""
    with commune_connection().cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                       [f"regies.invoice_mail:{commune_connection().schema_name}:{invoice.pk}"])


def _note(invoice: Invoice, address: str, actor: Actor, error: str = "") -> None:
    now = timezone.now()
    mailing = InvoiceMailing.objects.filter(invoice=invoice).first() or InvoiceMailing(
        invoice=invoice)
    mailing.to, mailing.attempted_at = address, now
    mailing.attempts += 1
    if error:
        mailing.status, mailing.error = MailingStatus.FAILED, error[:500]
        if mailing.sent_at is not None:  # an earlier e-mail went: that stays true
            mailing.status, mailing.error = MailingStatus.SENT, ""
    else:
        mailing.status, mailing.error = MailingStatus.SENT, ""
        mailing.sent_at, mailing.sent_by = now, actor.account
    mailing.save()
    if error:
        record(actor, events.InvoiceEmailFailed(target=f"invoice:{invoice.number}", data={
            "number": invoice.number, "to": address, "error": error[:200]}))
    else:
        record(actor, events.InvoiceEmailed(target=f"invoice:{invoice.number}", data={
            "number": invoice.number, "to": address}))


def invoice_email(*, invoice: Invoice, actor: Actor, to: str | None = None,
                  renderer: Renderer | None = None) -> str:
    """E-mail the invoice PDF to ``to``, by default to the payer's address (the agent's
    « Envoyer par courriel »); returns the address. Recorded on the invoice: a failure of
    the automatic e-mail is cleared by one that goes."""
    payer = invoice.payer
    address = _checked_address(payer.email if to is None else to, payer.name, "la facture")
    message = _invoice_message(invoice, address, renderer or Renderer())
    with atomic():
        _mailing_lock(invoice)
        _send(message, address)
        _note(invoice, address, actor)
    return address


def invoice_mail_new(*, invoice: Invoice, actor: Actor, renderer: Renderer) -> str:
    """The e-mail of a new invoice to its payer, once: ``sent`` (now), ``failed`` (the
    error kept for the agents), or ``skipped`` (already sent, cancelled, no address, or the
    payer said no). Safe to run twice at once or again after a failure."""
    payer = invoice.payer
    if (invoice.cancelled_at is not None or not payer.invoices_by_email
            or not payer.email):
        return "skipped"
    with atomic():
        _mailing_lock(invoice)
        if InvoiceMailing.objects.filter(invoice=invoice, status=MailingStatus.SENT).exists():
            return "skipped"
        try:
            address = _checked_address(payer.email, payer.name, "la facture")
            _send(_invoice_message(invoice, address, renderer), address)
        except RegieError as exc:
            _note(invoice, payer.email, actor, error=exc.message)
            return "failed"
        _note(invoice, address, actor)
    return "sent"


def invoices_mail_new(invoice_ids: list[int], actor: Actor) -> dict[str, int]:
    """The job's work: each invoice's e-mail (``invoice_mail_new``), one renderer for all
    (the commune's stylesheet and fonts read once). Returns the counts by outcome."""
    renderer = Renderer()
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    invoices = with_documents(Invoice.objects.filter(pk__in=invoice_ids).order_by("pk"))
    for invoice in invoices:
        counts[invoice_mail_new(invoice=invoice, actor=actor, renderer=renderer)] += 1
    return counts


def keepers(regie: Regie, day: datetime.date) -> list[str]:
    """Who answers for the régie's cash on ``day``: its titulaire, and the suppléant while
    a recorded stand-in covers the day. Their accounts are their e-mail addresses;
    service credentials are left out."""
    titulaires = Assignment.objects.appointed_on(day).filter(
        regie=regie, role=AssignmentRole.TITULAIRE).values_list("account", flat=True)
    standing_in = StandIn.objects.covering(day).filter(regie=regie).values_list("account",
                                                                                flat=True)
    found = []
    for account in [*titulaires, *standing_in]:
        try:
            validate_email(account)
        except ValidationError:
            continue
        if account not in found:
            found.append(account)
    return found


def regie_warnings_send(*, regie: Regie, actor: Actor,
                        now: datetime.datetime | None = None) -> list[str]:
    """E-mail the keepers of ``regie`` its warnings that call for a deposit now (overdue,
    maximum cash reached), each at most once a day: a warning sent is recorded
    (``warning.sent``), and a second run of the same day sends nothing more. Returns the
    codes of the warnings sent."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    found = [w for w in selectors.warnings(regie, now) if w.code in MAILED_WARNINGS]
    if not found:
        return []
    to = keepers(regie, day)
    if not to:
        logger.warning("régie %s: warnings %s, no titulaire to tell", regie.number,
                       [w.code for w in found])
        return []
    with atomic():
        # Two runs at once (a retry, a second scheduler) wait for each other here, without
        # holding the régie's row (the counter keeps posting meanwhile).
        with commune_connection().cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                           [f"regies.warning:{commune_connection().schema_name}:{regie.pk}"])
        sent = set(AuditEvent.objects.filter(
            code=events.WarningSent.code, target=f"regie:{regie.pk}",
            data__day=f"{day:%d/%m/%Y}").values_list("data__warning", flat=True))
        new = [w for w in found if w.code not in sent]
        if not new:
            return []
        brand = current_profile()
        labels = ", ".join(MAILED_WARNINGS[w.code] for w in new)
        body = (f"Bonjour,\n\nLa régie « {regie.name} » (n° {regie.number}) de "
                f"{brand.display_name} demande un versement au comptable public"
                f"{f' ({regie.accountant})' if regie.accountant else ''} :\n\n"
                + "".join(f"- {w.message}\n" for w in new)
                + "\nFaites le versement depuis l'espace des agents, rubrique de la régie, "
                  "puis remettez le bordereau au comptable. Ce message est envoyé une fois par "
                  f"jour tant que la situation dure.\n\n{_signature(brand)}\n")
        message = EmailMessage(subject=f"Régie {regie.number} {regie.name} : {labels}",
                               body=body, from_email=_sender(brand), to=to,
                               reply_to=[brand.email] if brand.email else None)
        _send(message, ", ".join(to))
        for warning in new:
            record(actor, events.WarningSent(target=f"regie:{regie.pk}", data={
                "regie": regie.number, "warning": warning.code,
                "label": MAILED_WARNINGS[warning.code], "to": ", ".join(to),
                "day": f"{day:%d/%m/%Y}"}))
    return [w.code for w in new]
