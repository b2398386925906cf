from pathlib import Path

from django.core.management.base import CommandError

from opsn.finance.pes_check import MAX_BYTES, check
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = ("Vérifie un fichier PES V2 « PES_Aller » de titres : d'abord contre le schéma "
            "que le projet tient (finance/data/pes_aller.xsd, ce que nous écrivons), puis "
            "ce qu'aucun schéma ne dit — le nombre et le total "
            "des titres du bordereau, les identifiants uniques, chaque ligne imputée, "
            "positive et avec son débiteur. Statut 0 s'il est bon, 1 s'il ne l'est pas "
            "(chaque problème affiché), 2 pour un fichier illisible.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="le fichier PES à vérifier")

    def handle(self, *args, file, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"Le fichier {path} n'existe pas.", returncode=2)
        if path.stat().st_size > MAX_BYTES:
            raise CommandError(f"Le fichier {path} dépasse {MAX_BYTES // (1024 * 1024)} Mo.",
                               returncode=2)
        problems = check(path.read_bytes())
        if problems:
            for problem in problems[:50]:
                self.stderr.write(f"  {problem}")
            raise CommandError(f"{path} : {len(problems)} problème(s).", returncode=1)
        self.stdout.write(f"{path} : fichier PES correct (schéma et totaux).")
