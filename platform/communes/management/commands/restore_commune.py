from communes import archive
from communes.management.commands._base import RegistryCommand


class Command(RegistryCommand):
    help = "Restore a commune from an archive made by offboard or export_commune."

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, path, **options):
        commune = archive.commune_restore(path=path)
        self.stdout.write(self.style.SUCCESS(
            f"{commune.name} ({commune.insee_code}) restored into schema {commune.schema_name}"))
