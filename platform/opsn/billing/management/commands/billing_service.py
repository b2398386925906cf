from opsn.billing.computation import BillingError
from opsn.billing.models import ServiceCharge
from opsn.billing.services import parse_amount
from opsn.communes.models import Commune
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = ("Record a one-off service for a commune (custom work, training): billed on the "
            "commune's invoice of that year, on a line of its own, with VAT.")

    def add_arguments(self, parser):
        parser.add_argument("commune", help="INSEE code or slug")
        parser.add_argument("year", type=int)
        parser.add_argument("label")
        parser.add_argument("amount_excl_vat", help="amount before VAT, e.g. 1234.57")
        parser.add_argument("--vat-rate", default="20.00", help="percent (default 20, the "
                                                                "normal rate)")

    def handle(self, *args, commune, year, label, amount_excl_vat, vat_rate, **options):
        found = Commune.objects.named(commune)
        amount = parse_amount(amount_excl_vat, "Montant HT")
        rate = parse_amount(vat_rate, "Taux de TVA")
        if amount <= 0 or rate >= 100:
            raise BillingError("Montant HT positif et taux de TVA inférieur à 100 % "
                               "attendus.")
        charge = ServiceCharge.objects.create(commune=found, year=year, label=label.strip(),
                                              amount_excl_vat=amount, vat_rate=rate)
        self.stdout.write(f"{charge}")
