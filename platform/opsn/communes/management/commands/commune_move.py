from opsn.communes import moves
from opsn.communes.models import Commune
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = ("Move a commune's schema to another database of the commune map: read-only "
            "meanwhile, exported, restored, checked, switched, the old schema dropped.")

    def add_arguments(self, parser):
        parser.add_argument("commune", help="INSEE code or slug")
        parser.add_argument("database", help="target database alias (OPSN_COMMUNE_DATABASES)")

    def handle(self, *args, commune, database, **options):
        found = Commune.objects.named(commune)
        source = found.database

        def progress(step: str) -> None:
            if options["verbosity"]:
                self.stdout.write(f"  {step}")

        moved = moves.commune_move(commune=found, database=database, progress=progress)
        self.stdout.write(self.style.SUCCESS(
            f"{moved.name} ({moved.insee_code}) moved from database {source} to {database}"))
