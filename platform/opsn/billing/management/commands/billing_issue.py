from django.core.management.base import BaseCommand, CommandError

from opsn.billing.computation import BillingError
from opsn.billing.issuing import billing_issue


class Command(BaseCommand):
    help = ("Issue the year's invoices (titres de recette), one per commune, numbered without "
            "gaps. All or nothing; a year is issued once.")

    def add_arguments(self, parser):
        parser.add_argument("year", type=int)

    def handle(self, *args, year, **options):
        try:
            run = billing_issue(year=year)
        except BillingError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        first = run.invoice_set.order_by("number").first()
        last = run.invoice_set.order_by("number").last()
        self.stdout.write(f"{year}: {run.invoices} titres émis ({first.number} à {last.number}),"
                          f" total {run.total} €")
