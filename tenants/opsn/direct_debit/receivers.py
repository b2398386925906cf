"""What the direct debit answers to the régies' announcements (``opsn.regies.signals``)."""

from __future__ import annotations

from django.dispatch import receiver

from opsn.direct_debit.models import Mandate, MandateSignature, MandateStatus
from opsn.direct_debit.notices import invoice_notice
from opsn.direct_debit.selectors import pending_debits, pending_message
from opsn.regies.signals import (
    invoice_debit_notice,
    payer_erased,
    payer_erasure_asked,
    payments_held,
)


@receiver(payer_erasure_asked, dispatch_uid="direct_debit.mandate_keeps_the_payer")
def mandate_keeps_the_payer(sender, payer, **kwargs) -> str | None:
    """An active mandate needs the debtor's details (the bank debits in their name): the
    payer's data stay until it is revoked."""
    active = list(Mandate.objects.filter(payer=payer, status=MandateStatus.ACTIVE)
                  .values_list("rum", flat=True)[:3])
    if not active:
        return None
    return (f"le payeur a un mandat de prélèvement SEPA actif ({', '.join(active)}) ; "
            "révoquez-le d'abord (page du mandat), puis effacez ses coordonnées.")


ERASED = "nom, IBAN et BIC du débiteur sur {count} mandat(s) révoqué(s) ou caduc(s)"


@receiver(payer_erased, dispatch_uid="direct_debit.erase_ended_mandates")
def erase_ended_mandates(sender, payer, **kwargs) -> list[str]:
    """A revoked or lapsed mandate no longer needs the debtor's name and account: they are
    blanked, with the account an amendment kept. The RUM, the dates, the state and the
    collections stay (the collections' lines keep the account debited: bank records, kept
    with the régie's accounts)."""
    ended = Mandate.objects.filter(payer=payer).exclude(status=MandateStatus.ACTIVE).exclude(
        debtor_name="", iban="", bic="", original_iban="", original_bic="")
    count = ended.update(debtor_name="", iban="", bic="", original_iban="", original_bic="")
    # A mandate signed online: its PDF (the debtor's name and account) and who signed from
    # where go too; when it was signed and the wording accepted stay.
    signed = (MandateSignature.objects
              .filter(mandate__payer=payer).exclude(mandate__status=MandateStatus.ACTIVE)
              .exclude(signer="", ip=None, pdf=b"")
              .update(signer="", ip=None, pdf=b""))
    return ([ERASED.format(count=count)] if count else []) + (
        [f"signataire et PDF de {signed} mandat(s) signé(s) en ligne"] if signed else [])


@receiver(payments_held, dispatch_uid="direct_debit.debits_hold_their_invoices")
def debits_hold_their_invoices(sender, invoice_ids, **kwargs) -> dict[int, str]:
    """An invoice in a debit sent to the bank is paid by it: no other payment until the
    bank settles it (confirmed: the invoice is paid; returned: it is open again)."""
    return {pk: pending_message(day) for pk, day in pending_debits(invoice_ids).items()}


@receiver(invoice_debit_notice, dispatch_uid="direct_debit.invoice_announces_its_debit")
def invoice_announces_its_debit(sender, invoice, **kwargs) -> str:
    """The invoice's document carries the pre-notification: the family without an e-mail
    address reads it there (date, account, mandate, creditor)."""
    return invoice_notice(invoice)
