from opsn.billing import services
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
        charge = services.service_charge_add(
            commune=Commune.objects.named(commune), year=year, label=label,
            amount_excl_vat=amount_excl_vat, vat_rate=vat_rate, by="command line")
        self.stdout.write(f"{charge}")
