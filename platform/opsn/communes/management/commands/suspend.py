from opsn.communes import services
from opsn.communes.models import Commune
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = "Suspend a commune: its sites answer « service suspendu »; data untouched."

    def add_arguments(self, parser):
        parser.add_argument("commune", help="INSEE code or slug")
        parser.add_argument("--reason", default="",
                            help="why (required; kept on the commune's record)")

    def handle(self, *args, commune, reason, **options):
        found = services.commune_suspend(commune=Commune.objects.named(commune), reason=reason)
        self.stdout.write(self.style.WARNING(f"{found.name} suspended"))
