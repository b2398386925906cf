from django.core.management.base import CommandError

from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.commands import DomainCommand
from opsn.kernel.tenancy import inside
from opsn.online_payments.models import Environment
from opsn.online_payments.services import payfip_configure
from opsn.regies.models import Regie


class Command(DomainCommand):
    help = ("Open (or change, or close) online payment through PayFiP for a régie: its "
            "PayFiP client number (numcli, 6 digits, given by the DGFiP) and environment "
            "(T test, X activation, W production). Exit status 2 on bad input, 3 when the "
            "commune or régie is unknown.")

    def add_arguments(self, parser):
        parser.add_argument("--commune", required=True, help="INSEE code, slug or schema")
        parser.add_argument("--regie", required=True, help="the régie's number")
        parser.add_argument("--numcli", required=True, help="the PayFiP client number")
        parser.add_argument("--environment", default=Environment.TEST,
                            choices=Environment.values)
        parser.add_argument("--close", action="store_true",
                            help="stop offering online payment (payments under way finish)")

    def handle(self, *args, commune, regie, numcli, environment, close, **options):
        found = tenancy.communes().named(commune)
        with inside(found):
            target = Regie.objects.filter(number=regie.strip()).first()
            if target is None:
                raise CommandError(f"Aucune régie {regie} à {found.name}.", returncode=3)
            account = payfip_configure(regie=target, actor=Actor.system("opsn payfip_account"),
                                       numcli=numcli, environment=environment,
                                       enabled=not close)
        state = "fermé" if close else "ouvert"
        self.stdout.write(f"{found.name}, régie {target.number} : paiement en ligne {state} "
                          f"({account}).")
