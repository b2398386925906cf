from opsn.communes import services
from opsn.communes.management.commands._base import RegistryCommand


class Command(RegistryCommand):
    help = "Put a suspended commune back in service."

    def add_arguments(self, parser):
        parser.add_argument("commune", help="INSEE code or slug")

    def handle(self, *args, commune, **options):
        found = services.commune_resume(commune=services.get_commune(commune))
        self.stdout.write(self.style.SUCCESS(f"{found.name} back in service"))
