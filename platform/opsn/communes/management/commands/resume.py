from opsn.communes import services
from opsn.communes.models import Commune
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = "Put a suspended commune back in service."

    def add_arguments(self, parser):
        parser.add_argument("commune", help="INSEE code or slug")

    def handle(self, *args, commune, **options):
        found = services.commune_resume(commune=Commune.objects.named(commune))
        self.stdout.write(self.style.SUCCESS(f"{found.name} back in service"))
