from pathlib import Path

from django.core.management.base import CommandError

from opsn.audit import events
from opsn.audit.services import record
from opsn.finance.plan import load_plan, read_plan
from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.commands import DomainCommand
from opsn.kernel.tenancy import inside


class Command(DomainCommand):
    help = ("Charge une édition de la nomenclature M57 (fichier CSV « edition;type;code;"
            "libelle;chapitre », docs/finance-guide.md) dans chaque commune, ou dans une seule "
            "(--commune). Tout le fichier est vérifié avant d'écrire quoi que ce soit ; le "
            "recharger ne change rien. Dit, par commune, ce qui a été ajouté, modifié, retiré.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="le fichier CSV de l'édition")
        parser.add_argument("--commune", help="code INSEE, slug ou schéma (défaut : toutes)")

    def handle(self, *args, file, commune=None, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"Aucun fichier « {file} ».", returncode=3)
        plan = read_plan(path.read_bytes())  # the whole file, checked once for all communes
        communes = ([tenancy.communes().named(commune)] if commune else
                    list(tenancy.communes().exclude(schema_name="public").order_by("slug")))
        actor = Actor.system("m57_load")
        for found in communes:
            with inside(found):
                loaded = load_plan(plan)
                if loaded.changes:
                    record(actor, events.PlanLoaded(target=f"m57:{plan.edition}",
                                                    data={"summary": loaded.summary()}))
            self.stdout.write(f"{found.name} : {loaded.summary()}")
            for what, codes in (("ajouté", loaded.added), ("modifié", loaded.changed),
                                ("retiré", loaded.retired)):
                if codes:
                    self.stdout.write(f"  {what} : {', '.join(codes)}")
