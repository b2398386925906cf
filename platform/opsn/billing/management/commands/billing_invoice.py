from django.core.management.base import CommandError

from opsn.billing import issuing
from opsn.billing.computation import BillingError
from opsn.billing.models import Invoice
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = ("Move an invoice through its life: send (--on JJ/MM/AAAA), paid, contest (for a "
            "commune), correct (--reason, one --line module:label:amount[:TVA] per line of "
            "the new titre; module empty for a service).")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["send", "paid", "contest", "correct", "show"])
        parser.add_argument("number")
        parser.add_argument("--reason", default="")
        parser.add_argument("--on", default="", help="send: the day it went to Chorus Pro")
        parser.add_argument("--line", action="append", default=[],
                            help="correct: module:label:amount[:VAT rate]")

    def handle(self, *args, action, number, reason, on, line, **options):
        invoice = Invoice.objects.filter(number=number).first()
        if invoice is None:
            raise CommandError(f"Aucun titre n'a le numéro « {number} ».", returncode=3)
        try:
            by = "command line"
            if action == "send":
                invoice = issuing.invoice_send(invoice=invoice, when=issuing.sent_at_of(on),
                                               by=by)
            elif action == "paid":
                invoice = issuing.invoice_mark_paid(invoice=invoice, by=by)
            elif action == "contest":
                invoice = issuing.invoice_contest(invoice=invoice, reason=reason, by=by)
            elif action == "correct":
                lines = []
                for text in line:
                    parts = text.split(":")
                    if len(parts) not in (3, 4):
                        raise BillingError(f"Ligne « {text[:60]} » illisible : écrivez "
                                           "module:intitulé:montant[:TVA].")
                    lines.append(tuple(parts))
                credit, invoice = issuing.invoice_correct(invoice=invoice, lines=lines,
                                                          reason=reason, by=by)
                self.stdout.write(f"Avoir {credit.number} : {credit.total} €")
        except BillingError as exc:
            raise CommandError(str(exc), returncode=4) from exc
        due = f", à payer avant le {invoice.due_on:%d/%m/%Y}" if invoice.due_on else ""
        overdue = " — EN RETARD" if invoice.is_overdue else ""
        self.stdout.write(f"{invoice.number} {invoice.commune_name} {invoice.total} € : "
                          f"{invoice.get_status_display()}{due}{overdue}")
