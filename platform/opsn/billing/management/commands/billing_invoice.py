from django.core.management.base import CommandError

from opsn.billing import issuing
from opsn.billing.computation import BillingError
from opsn.billing.models import Invoice
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = "Move an invoice through its life: send, paid, contest (for a commune)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["send", "paid", "contest", "show"])
        parser.add_argument("number")
        parser.add_argument("--reason", default="")

    def handle(self, *args, action, number, reason, **options):
        invoice = Invoice.objects.filter(number=number).first()
        if invoice is None:
            raise CommandError(f"Aucun titre n'a le numéro « {number} ».", returncode=3)
        try:
            if action == "send":
                invoice = issuing.invoice_send(invoice=invoice)
            elif action == "paid":
                invoice = issuing.invoice_mark_paid(invoice=invoice)
            elif action == "contest":
                invoice = issuing.invoice_contest(invoice=invoice, reason=reason)
        except BillingError as exc:
            raise CommandError(str(exc), returncode=4) from exc
        due = f", à payer avant le {invoice.due_on:%d/%m/%Y}" if invoice.due_on else ""
        overdue = " — EN RETARD" if invoice.is_overdue else ""
        self.stdout.write(f"{invoice.number} {invoice.commune_name} {invoice.total} € : "
                          f"{invoice.get_status_display()}{due}{overdue}")
