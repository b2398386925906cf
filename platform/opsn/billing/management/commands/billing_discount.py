from opsn.billing import services
from opsn.billing.models import Discount
from opsn.communes.models import Commune
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = ("Set a discount for a commune and year (e.g. 50 %% the first year of a "
            "convention), on one application (--module) or all; --remove takes it away.")

    def add_arguments(self, parser):
        parser.add_argument("commune", help="INSEE code or slug")
        parser.add_argument("year", type=int)
        parser.add_argument("percent", nargs="?", default="", help="e.g. 50")
        parser.add_argument("--module", default=None, help="one application (default: all)")
        parser.add_argument("--reason", default="", help="required; shown on the titre")
        parser.add_argument("--remove", action="store_true")

    def handle(self, *args, commune, year, percent, module, reason, remove, **options):
        found = Commune.objects.named(commune)
        if remove:
            for discount in Discount.objects.filter(commune=found, year=year,
                                                    module_id=module):
                services.discount_remove(discount=discount, by="command line")
                self.stdout.write(f"removed: {discount}")
            return
        discount = services.discount_set(commune=found, year=year, percent=percent,
                                         reason=reason, module=module, by="command line")
        self.stdout.write(f"{discount}")
