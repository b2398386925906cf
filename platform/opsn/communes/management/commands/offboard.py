from opsn.communes import archive
from opsn.communes.models import Commune
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = ("Offboard a commune: export its whole schema to one restorable file, then remove "
            "the schema, domains and rows. Nothing is removed if the export fails.")

    def add_arguments(self, parser):
        parser.add_argument("commune", help="INSEE code or slug")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, commune, yes, **options):
        found = Commune.objects.named(commune)
        if not yes and options.get("interactive", True):
            answer = input(f"Offboard {found.name} ({found.insee_code})? Type its INSEE code: ")
            if answer.strip().upper() != found.insee_code:
                self.stderr.write("Not confirmed: nothing done.")
                return
        record = archive.commune_offboard(commune=found)
        self.stdout.write(self.style.SUCCESS(
            f"{found.name} offboarded; archive {record.path} (sha256 {record.sha256})"))
