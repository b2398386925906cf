from opsn.communes import archive
from opsn.communes.models import Commune
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = "Export a commune's whole schema and registry rows to one restorable file."

    def add_arguments(self, parser):
        parser.add_argument("commune", help="INSEE code or slug")
        parser.add_argument("--directory", default=None)

    def handle(self, *args, commune, directory, **options):
        record = archive.commune_export(commune=Commune.objects.named(commune),
                                        directory=directory)
        self.stdout.write(f"{record.path} ({record.size_bytes} bytes, sha256 {record.sha256})")
