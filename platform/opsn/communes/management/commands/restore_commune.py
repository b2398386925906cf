from opsn.communes import archive
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = "Restore a commune from an archive made by offboard or export_commune."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--database", default=None,
                            help="database alias for its schema (default: where a new "
                                 "commune goes)")

    def handle(self, *args, path, database, **options):
        commune = archive.commune_restore(path=path, database=database)
        self.stdout.write(self.style.SUCCESS(
            f"{commune.name} ({commune.insee_code}) restored into schema {commune.schema_name}"))
