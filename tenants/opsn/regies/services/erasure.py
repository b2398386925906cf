"""Payers' personal data: erasure on request and after the retention period
(docs/public-service.md, « Erasure and retention »).

What goes: the contact details on the payer's record (e-mail, phone, postal address) and,
after the retention period, its name (a pseudonym); and what the apps built on the régies
keep on the payer — the address its invoices and reminders were e-mailed to, the e-mail
of its online payments, the debtor's name and account on
its revoked or lapsed mandates — which they erase themselves when told
(``signals.payer_erased``). What stays: the invoices, the
payments, the receipts and the journal — accounting records kept ten years — untouched:
the journal keeps the name each receipt was made out to (it is part of the receipt and of
its fingerprint), so its hash chain still verifies. The record of an erasure is the audit
log (``payer.erased``, ``payer.pseudonymised``), which names the fields, never their
values.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection

from django.db.models import DateField, Max, OuterRef, Q, Subquery
from django.db.models.functions import Greatest, TruncDate
from django.utils import timezone

from opsn.audit import events
from opsn.audit.services import record
from opsn.kernel.actors import Actor
from opsn.kernel.money import euros
from opsn.kernel.tenancy import atomic
from opsn.regies import permissions
from opsn.regies.errors import Refused, RegieError
from opsn.regies.models import Invoice, InvoiceMailing, LedgerEntry, Payer
from opsn.regies.models.payers import OWED_STATUSES
from opsn.regies.signals import payer_erased, payer_erasure_asked

# The contact details a payer may have erased; their labels for the audit log.
CONTACT_FIELDS = {"email": "courriel", "phone": "téléphone", "address_line": "adresse",
                  "postal_code": "code postal", "city": "commune"}
PSEUDONYM = "Payeur {id} (pseudonymisé)"
REASON_MAX = 300


def pseudonym(payer: Payer) -> str:
    return PSEUDONYM.format(id=payer.pk)


def _clean_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if "\x00" in reason:
        raise RegieError("Le motif contient un caractère invalide (caractère nul).",
                         field="reason")
    if not reason:
        raise RegieError("Indiquez le motif de l'effacement (par exemple : « demande du "
                         "payeur par courriel du 2 décembre »).", field="reason")
    if len(reason) > REASON_MAX:
        raise RegieError(f"Le motif tient en {REASON_MAX} caractères au plus.",
                         field="reason")
    return reason


def _held(payer: Payer) -> list[str]:
    """Why other apps keep this payer's data (``signals.payer_erasure_asked``)."""
    return [why for _receiver, why in payer_erasure_asked.send(sender=Payer, payer=payer)
            if why]


def _erase_elsewhere(payer: Payer, *, pseudonymised: bool) -> list[str]:
    """What else was erased on this payer, labelled: the address each invoice's e-mail
    went to (its status and dates stay), and what the other apps erased
    (``signals.payer_erased``)."""
    mailed = (InvoiceMailing.objects.filter(invoice__payer=payer).exclude(to="")
              .update(to=""))
    own = [f"adresse de {mailed} envoi(s) de facture par courriel"] if mailed else []
    return own + [label for _receiver, labels in payer_erased.send(
        sender=Payer, payer=payer, pseudonymised=pseudonymised) for label in labels or ()]


def _unpaid(payer: Payer):
    return Invoice.objects.filter(payer=payer, status__in=OWED_STATUSES).order_by("due_on")


@atomic
def payer_erase(*, payer: Payer, actor: Actor, reason: str) -> list[str]:
    """Erase the payer's contact details on request; the labels of the fields erased.

    Refused while an invoice is still to pay: the postal address is what the régie and the
    public accountant need to recover it (reminders, then the accountant's recovery), so
    nothing is erased until the invoices are paid or cancelled — the agent may meanwhile
    correct or remove the e-mail and phone on the payer's form (rectification)."""
    reason = _clean_reason(reason)
    payer = Payer.objects.select_for_update().select_related("regie").get(pk=payer.pk)
    permissions.require_eraser(payer.regie, actor, timezone.localdate())
    unpaid = list(_unpaid(payer)[:4])
    if unpaid:
        owed = ", ".join(f"{i.number} ({euros(i.total - i.amount_paid)})"
                         for i in unpaid[:3]) + (" …" if len(unpaid) > 3 else "")
        owed = (f"la facture {owed} reste à payer" if len(unpaid) == 1
                else f"les factures {owed} restent à payer")
        raise Refused(
            f"Effacement refusé : {owed}, et l'adresse du payeur sert à la "
            f"recouvrer. Les coordonnées pourront être effacées quand ses factures seront "
            f"payées ou annulées ; en attendant, le courriel et le téléphone peuvent être "
            f"retirés de la fiche (« Enregistrer la fiche »).", field="reason")
    held = _held(payer)
    if held:
        raise Refused(f"Effacement refusé : {' ; '.join(held)}", field="reason")
    erased = [f for f in CONTACT_FIELDS if getattr(payer, f)]
    for name in erased:
        setattr(payer, name, "")
    if erased:
        payer.save(update_fields=erased)
    labels = [CONTACT_FIELDS[f] for f in erased] + _erase_elsewhere(payer,
                                                                     pseudonymised=False)
    if not labels:  # nothing written: the transaction leaves the record as it was
        raise Refused("Ce payeur n'a plus de coordonnées : il n'y a rien à effacer.",
                      field="reason")
    record(actor, events.PayerErased(
        target=f"payer:{payer.pk}",
        data={"link_code": payer.link_code, "regie": payer.regie.number,
              "fields": ", ".join(labels), "reason": reason}))
    return labels


def last_activity_expression():
    """A payer's last activity: its last invoice (issue date) or payment (receipt date),
    else its creation. Subqueries, one row per payer: no join of invoices with entries."""
    last_invoice = (Invoice.objects.filter(payer=OuterRef("pk")).order_by().values("payer")
                    .annotate(last=Max("issued_on")).values("last"))
    last_entry = (LedgerEntry.objects.filter(payer=OuterRef("pk")).order_by().values("payer")
                  .annotate(last=Max(Greatest("dated_on", TruncDate("posted_at"))))
                  .values("last"))
    # PostgreSQL's greatest() ignores NULLs: a payer without invoices or payments is
    # dated by its creation.
    return Greatest(Subquery(last_invoice), Subquery(last_entry), TruncDate("created_at"),
                    output_field=DateField())


def retention_limit(years: int, today: datetime.date) -> datetime.date:
    """The day before which a last activity is past the retention period."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def payers_past_retention(*, years: int, linked: Collection[int],
                          today: datetime.date | None = None):
    """The payers to pseudonymise: last activity before the retention limit, not linked
    to a citizen's account, nothing left to pay, not pseudonymised yet."""
    limit = retention_limit(years, today or timezone.localdate())
    done = Q(email="", phone="", address_line="", postal_code="", city="")
    return (Payer.objects.exclude(pk__in=list(linked))
            .exclude(invoices__status__in=OWED_STATUSES)
            .annotate(last_activity=last_activity_expression())
            .filter(last_activity__lt=limit)
            .exclude(done & Q(name__startswith="Payeur ", name__endswith=" (pseudonymisé)"))
            .select_related("regie").order_by("id"))


def payers_pseudonymise(*, actor: Actor, years: int, linked: Collection[int],
                        today: datetime.date | None = None) -> int:
    """Pseudonymise the payers past the retention period (``linked``: the ids of this
    commune's payers linked to a citizen's account, given by the job, which reads them in
    the platform's schema). Idempotent: a payer already pseudonymised is not touched again.
    One transaction per payer: a failure leaves the others done. The number done."""
    done = 0
    for candidate in payers_past_retention(years=years, linked=linked, today=today):
        if _pseudonymise(candidate.pk, candidate.last_activity, actor, years):
            done += 1
    return done


@atomic
def _pseudonymise(payer_id: int, last_activity: datetime.date, actor: Actor,
                  years: int) -> bool:
    payer = Payer.objects.select_for_update().select_related("regie").get(pk=payer_id)
    if _unpaid(payer).exists() or _held(payer):  # an invoice issued since; a mandate
        return False
    changed = [f for f in CONTACT_FIELDS if getattr(payer, f)]
    for name in changed:
        setattr(payer, name, "")
    if payer.name != pseudonym(payer):
        payer.name = pseudonym(payer)
        changed.append("name")
    if not changed:
        return False
    payer.save(update_fields=changed)
    elsewhere = _erase_elsewhere(payer, pseudonymised=True)
    record(actor, events.PayerPseudonymised(
        target=f"payer:{payer.pk}",
        data={"link_code": payer.link_code, "regie": payer.regie.number,
              "last_activity": f"{last_activity:%d/%m/%Y}", "years": years,
              "also": f" ; effacés aussi : {', '.join(elsewhere)}" if elsewhere else ""}))
    return True
