"""Right of access (RGPD art. 15): everything the platform holds about a person, across
communes, as one JSON document — their account, their links to payer records (unlinked
ones too), and for each payer record they are linked to now: the record, its invoices and
their lines, its payments and the online payments made for it. Nothing of anyone else: only
the payer records the person is linked to, read inside each commune's schema."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from opsn.audit import events
from opsn.audit.services import record as audit_record
from opsn.citizens.models import PayerLink
from opsn.direct_debit.models import Mandate, MandateSignature
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import atomic, inside
from opsn.online_payments.models import OnlinePayment
from opsn.regies.models import Invoice, LedgerEntry, Payer

FORMAT = "opsn-donnees-personnelles/1"


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _row(obj, fields: tuple[str, ...]) -> dict:
    return {f: _plain(getattr(obj, f)) for f in fields}


PAYER_FIELDS = ("name", "kind", "address_line", "postal_code", "city", "email", "phone",
                "external_ref", "link_code", "created_at")
INVOICE_FIELDS = ("number", "label", "issued_on", "due_on", "total", "amount_paid", "status",
                  "cancelled_at")
LINE_FIELDS = ("label", "quantity", "unit_price", "amount", "period_start", "period_end",
               "beneficiary")
ENTRY_FIELDS = ("year", "receipt_number", "amount", "mode", "payer_name", "source",
                "posted_at", "dated_on", "reason")
REMINDER_FIELDS = ("level", "channel", "status", "to", "owed", "made_on", "sent_at")
CONTEST_FIELDS = ("reason", "contested_at", "lifted_at", "lift_reason")
ONLINE_FIELDS = ("created_at", "refdet", "amount_cents", "email", "state", "result_code")


def payer_record(payer_id: int) -> dict | None:
    """One payer record and all that hangs on it, read in the current commune's schema."""
    payer = Payer.objects.select_related("regie").filter(pk=payer_id).first()
    if payer is None:
        return None
    invoices = (Invoice.objects.filter(payer=payer)
                .prefetch_related("lines", "reminders", "contests")
                .order_by("issued_on", "number"))
    entries = LedgerEntry.objects.filter(payer=payer).order_by("posted_at", "id")
    online = OnlinePayment.objects.filter(payer=payer).order_by("created_at", "id")
    return {
        "regie": {"number": payer.regie.number, "name": payer.regie.name},
        "payer": _row(payer, PAYER_FIELDS),
        "invoices": [{**_row(i, INVOICE_FIELDS),
                      "lines": [_row(line, LINE_FIELDS) for line in i.lines.all()],
                      # The reminders sent and the contests recorded (opsn.finance.reminders)
                      "reminders": [_row(r, REMINDER_FIELDS) for r in i.reminders.all()],
                      "contests": [_row(c, CONTEST_FIELDS) for c in i.contests.all()]}
                     for i in invoices],
        "payments": [{**_row(e, ENTRY_FIELDS), "is_reversal": e.reverses_id is not None}
                     for e in entries],
        "online_payments": [_row(o, ONLINE_FIELDS) for o in online],
        # The IBAN as everywhere outside the form that enters it: its last four characters.
        "direct_debit_mandates": [
            {"rum": m.rum, "debtor_name": m.debtor_name, "iban": m.iban_masked, "bic": m.bic,
             "signed_on": m.signed_on.isoformat(), "kind": m.kind, "status": m.status,
             "last_collected_on": m.last_collected_on.isoformat() if m.last_collected_on
             else None, "signed_online": _signature(m)}
            for m in Mandate.objects.filter(payer=payer).select_related("signature")
            .defer("signature__pdf", "signature__wording").order_by("signed_on", "id")],
    }


def _signature(mandate: Mandate) -> dict | None:
    """When, by whom and from where a mandate was signed online (None: on paper)."""
    try:
        signature = mandate.signature
    except MandateSignature.DoesNotExist:
        return None
    return {"at": signature.signed_at.isoformat(), "by": signature.signer,
            "ip": signature.ip}


def personal_data(subject: str, account: dict) -> dict:
    """The document for the person whose identity-provider subject is ``subject``."""
    links = PayerLink.objects.filter(subject=subject).select_related("commune").order_by(
        "commune__name", "linked_at")
    communes: dict[str, dict] = {}
    for link in links:
        if link.unlinked_at is not None:
            continue
        with inside(link.commune):
            record = payer_record(link.payer_id)
        if record is not None:
            entry = communes.setdefault(link.commune.insee_code, {
                "commune": link.commune.name, "insee_code": link.commune.insee_code,
                "controller": f"commune de {link.commune.name}", "payer_records": []})
            entry["payer_records"].append(record)
    return {
        "format": FORMAT,
        "produced_at": timezone.localtime().isoformat(),
        "account": account,
        "links": [{"commune": link.commune.name, "insee_code": link.commune.insee_code,
                   "payer_name": link.payer_name, "method": link.method,
                   "linked_at": _plain(link.linked_at),
                   "unlinked_at": _plain(link.unlinked_at)} for link in links],
        "communes": list(communes.values()),
    }


def payer_data_export(*, payer: Payer, actor: Actor) -> dict:
    """An agent answers a payer's access request: the same document for one payer record
    of the commune, the export written in the commune's audit log."""
    with atomic():
        audit_record(actor, events.PayerDataExported(
            target=f"payer:{payer.pk}", data={"name": payer.name, "link_code": payer.link_code,
                                               "regie": payer.regie.number}))
    return {"format": FORMAT, "produced_at": timezone.localtime().isoformat(),
            "produced_by": actor.account, **(payer_record(payer.pk) or {})}
