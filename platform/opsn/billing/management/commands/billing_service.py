from django.core.management.base import BaseCommand, CommandError

from opsn.billing.computation import BillingError
from opsn.billing.models import ServiceCharge
from opsn.billing.services import parse_amount
from opsn.communes import services as communes
from opsn.communes.errors import RegistryError


class Command(BaseCommand):
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
        try:
            found = communes.get_commune(commune)
            amount = parse_amount(amount_excl_vat, "Montant HT")
            rate = parse_amount(vat_rate, "Taux de TVA")
            if amount <= 0 or rate >= 100:
                raise BillingError("Montant HT positif et taux de TVA inférieur à 100 % "
                                   "attendus.")
        except (BillingError, RegistryError) as exc:
            raise CommandError(str(exc), returncode=2) from exc
        charge = ServiceCharge.objects.create(commune=found, year=year, label=label.strip(),
                                              amount_excl_vat=amount, vat_rate=rate)
        self.stdout.write(f"{charge}")
