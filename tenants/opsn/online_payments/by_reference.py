"""« Payer une facture »: paying an invoice without an account, on the commune's site, with
what is printed on it — its number and the payer's code (``Payer.link_code``, the code
that also links the payer to an account). PayFiP is made for this: a reference and an
amount, no account.

1. ``invoice_by_reference``: the number and the code, compared in constant time; an
   unknown number and a wrong code get the same answer, and are counted
   (``throttle.attempt``: a pause, then a log line).
2. ``owed``: what the invoice still asks (its label, what remains, the due date), or why
   it cannot be paid online — said only to whoever gave its code.
3. ``reference_payment_start``: the usual online payment (``services.online_payment_start``:
   one payment in flight per invoice, the amount computed here), marked ``by_reference``,
   with the address the family gave for its receipt.
4. The page PayFiP sends the family back to, and the receipt's download, are named by a
   signed token that opens that payment only (``payment_token``).

Between steps, the invoice is carried by a signed token too (``invoice_token``, valid
``CHECKED_MINUTES``): no session, no account, nothing to guess."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from email.utils import parseaddr

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from opsn.branding.selectors import current_profile
from opsn.kernel.tenancy import current_commune
from opsn.online_payments import selectors
from opsn.online_payments.errors import BadRequest, WrongReference
from opsn.online_payments.models import OnlinePayment
from opsn.online_payments.services import (
    MAX_CENTS,
    MIN_CENTS,
    account_of,
    online_payment_start,
)
from opsn.online_payments.throttle import NUMBER_LENGTH, attempt
from opsn.regies.models import Invoice
from opsn.regies.services.invoicing import normalise_link_code

CHECKED_MINUTES = 30  # the code was checked: this long to choose and go to PayFiP
RESULT_DAYS = 30  # the result page and its receipt, from the link PayFiP sends back to
CODE_LENGTH = 64  # longer than any code: never one
SAME_ANSWER = ("Aucune facture à payer ne correspond à ce numéro et à ce code. Vérifiez "
               "les deux sur votre facture : le numéro de la facture, et le code de "
               "rattachement (12 caractères, par exemple ABCD-EFGH-JKMN).")
# Compared with a code nobody has when the number is unknown: the same work either way.
NOBODY = b"----:----:----"


def _typed(value: str, limit: int) -> str:
    return " ".join((value or "").split())[:limit + 1]


def _find(number: str) -> Invoice | None:
    """The invoice of that number as typed, or in upper or lower case (spaces dropped):
    one look-up on the numbers' unique index, the same whether it exists or not."""
    if not number or len(number) > NUMBER_LENGTH:
        return None
    found = {invoice.number: invoice for invoice in Invoice.objects.select_related(
        "payer", "regie").filter(number__in={number, number.upper(), number.lower()})}
    return found.get(number) or found.get(number.upper()) or found.get(number.lower())


def invoice_by_reference(*, number: str, code: str, ip: str = "") -> Invoice:
    """The invoice ``number`` if ``code`` is its payer's code. ``WrongReference`` (the
    same answer) for an unknown number and a wrong code; ``TooManyTries`` while paused."""

    number = "".join(_typed(number, NUMBER_LENGTH * 4).split())
    typed_code = _typed(code, CODE_LENGTH)
    if not number:
        raise BadRequest("Saisissez le numéro de la facture, tel qu'il est imprimé dessus.",
                         field="number")
    if not typed_code:
        raise BadRequest("Saisissez le code de rattachement imprimé sur la facture.",
                         field="code")
    given = normalise_link_code(typed_code).encode()

    def check() -> Invoice | None:
        invoice = _find(number)
        expected = invoice.payer.link_code.encode() if invoice is not None else NOBODY
        same = hmac.compare_digest(given, expected)
        return invoice if invoice is not None and same else None

    invoice = attempt(ip=ip, number=number, check=check)
    if invoice is None:
        raise WrongReference(SAME_ANSWER, field="code")
    return invoice


@dataclass
class Owed:
    """What the family is shown once its code is right: the invoice as printed (no more
    of the payer than the invoice says), and whether it can be paid online now."""

    invoice: Invoice
    remaining: Decimal
    payable: bool
    why_not: str = ""  # the reason it cannot, in French
    resuming: bool = False  # a payment waits for PayFiP's result: going on takes it up

    @property
    def regie_name(self) -> str:
        return self.invoice.regie.name


def owed(invoice: Invoice) -> Owed:
    invoice = Invoice.objects.select_related("regie", "payer").get(pk=invoice.pk)
    remaining = invoice.total - invoice.amount_paid
    number = invoice.number
    flight = selectors.in_flight([invoice.pk]).get(invoice.pk, "")

    def refused(why: str) -> Owed:
        return Owed(invoice, remaining, payable=False, why_not=why)

    if invoice.cancelled_at is not None:
        return refused(f"La facture n° {number} a été annulée par la régie : il n'y a rien "
                       "à payer. Pour toute question, contactez la régie.")
    if flight == selectors.RECEIVED:
        return refused(f"Un paiement en ligne de la facture n° {number} est reçu et en cours "
                       "d'enregistrement : ne payez pas une seconde fois.")
    if flight == selectors.CHECKING:
        return refused(f"Un paiement en ligne de la facture n° {number} est en vérification "
                       "à la régie : ne payez pas une seconde fois ; la régie vous "
                       "répondra, ou contactez-la.")
    if remaining <= 0:
        return refused(f"La facture n° {number} est déjà payée : il ne reste rien à payer.")
    if account_of(invoice.regie) is None:
        return refused(f"La régie « {invoice.regie.name} » ne propose pas le paiement en "
                       "ligne : payez cette facture auprès d'elle (ses coordonnées et les "
                       "autres moyens de paiement sont sur la facture).")
    if not MIN_CENTS <= remaining * 100 <= MAX_CENTS:
        return refused("Le paiement en ligne (PayFiP) accepte de 1 € à 100 000 € : payez "
                       "cette facture auprès de la régie.")
    return Owed(invoice, remaining, payable=True, resuming=flight == selectors.PENDING)


def _email(value: str) -> str:
    address = " ".join((value or "").split())
    if not address:
        return ""
    try:
        validate_email(address)
    except ValidationError:
        raise BadRequest(f"« {address[:80]} » n'est pas une adresse électronique valide : "
                         "corrigez-la, ou laissez le champ vide.", field="email") from None
    return address.lower()


def _payfip_email(given: str) -> str:
    """PayFiP asks an address (``mel``) for every payment. Without one from the family,
    the commune's contact address (PayFiP's own ticket then reaches the commune), else
    the platform's sender address — never the payer's record's, which the invoice does
    not show."""
    return (given or current_profile().email
            or parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL)


def reference_payment_start(*, invoice: Invoice, email: str, ip: str, notify_url: str,
                            return_url_for: Callable[[OnlinePayment], str]) -> OnlinePayment:
    """Start paying what ``invoice`` owes, without an account (its code was checked: the
    caller holds an ``invoice_token``). ``email``: where to send the receipt, optional."""

    receipt_to = _email(email)
    who = hashlib.sha256((ip or "-").encode()).hexdigest()[:12]
    return online_payment_start(invoice=invoice, email=_payfip_email(receipt_to),
                                started_by=f"sans compte {who}", notify_url=notify_url,
                                return_url_for=return_url_for, by_reference=True,
                                receipt_to=receipt_to)


# --- Tokens -------------------------------------------------------------------------------

def _salt(kind: str) -> str:
    commune = current_commune()
    return f"opsn.pay-by-reference.{kind}.{getattr(commune, 'schema_name', 'public')}"


def invoice_token(invoice: Invoice) -> str:
    """Proof, for ``CHECKED_MINUTES``, that the code of ``invoice`` was given here."""
    return signing.dumps(invoice.pk, salt=_salt("invoice"))


def invoice_of(token: str) -> Invoice | None:
    try:
        pk = signing.loads(token or "", salt=_salt("invoice"), max_age=CHECKED_MINUTES * 60)
    except signing.BadSignature:
        return None
    return Invoice.objects.filter(pk=pk).first() if isinstance(pk, int) else None


def payment_token(payment: OnlinePayment) -> str:
    """Opens the result and the receipt of ``payment``, and of no other."""
    return signing.dumps(payment.pk, salt=_salt("payment"))


def payment_of(token: str) -> OnlinePayment | None:
    try:
        pk = signing.loads(token or "", salt=_salt("payment"), max_age=RESULT_DAYS * 86400)
    except signing.BadSignature:
        return None
    if not isinstance(pk, int):
        return None
    return OnlinePayment.objects.filter(pk=pk, by_reference=True).first()
