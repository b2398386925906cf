from opsn.billing.issuing import billing_issue
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = ("Issue the year's invoices (titres de recette), one per commune, numbered without "
            "gaps. All or nothing; a year is issued once.")

    def add_arguments(self, parser):
        parser.add_argument("year", type=int)

    def handle(self, *args, year, **options):
        run = billing_issue(year=year)
        first = run.invoice_set.order_by("number").first()
        last = run.invoice_set.order_by("number").last()
        self.stdout.write(f"{year}: {run.invoices} titres émis ({first.number} à {last.number}),"
                          f" total {run.total} €")
