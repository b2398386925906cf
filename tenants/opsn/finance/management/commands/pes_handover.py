import datetime
from pathlib import Path

from django.core.management.base import CommandError

from opsn.finance.handover import handover_create
from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.commands import DomainCommand
from opsn.kernel.money import euros
from opsn.kernel.tenancy import inside
from opsn.regies.models import Regie


class Command(DomainCommand):
    actor_name = "pes_handover"
    help = ("Transmet au comptable public les factures impayées d'une régie échues avant une "
            "date : un bordereau de titres de recettes (un titre par facture, chacune une "
            "seule fois), et son fichier PES V2 « PES_Aller » (écrit aussi dans --out si "
            "donné ; sinon « opsn pes_export --handover N »). Affiche le numéro du "
            "bordereau, le nombre de titres et le total. Statut 2 pour une entrée invalide "
            "(date, produit sans imputation, budget sans identité), 3 pour une commune ou "
            "une régie inconnue.")

    def add_arguments(self, parser):
        parser.add_argument("commune", help="code INSEE, slug ou schéma")
        parser.add_argument("regie", help="le numéro de la régie")
        parser.add_argument("--due-before", required=True,
                            help="AAAA-MM-JJ : les factures échues avant ce jour")
        parser.add_argument("--min-amount", default=None,
                            help="seulement les factures qui doivent encore au moins ce "
                                 "montant (15.00)")
        parser.add_argument("--out", default=None,
                            help="le fichier PES à écrire (nouveau) ; facultatif : le fichier "
                                 "reste sur le bordereau, que « opsn pes_export --handover N » "
                                 "et la page de la transmission donnent")

    def handle(self, *args, commune, regie, due_before, out=None, min_amount=None, **options):
        try:
            day = datetime.date.fromisoformat(due_before.strip())
        except ValueError as exc:
            raise CommandError(f"« {due_before} » n'est pas une date (AAAA-MM-JJ).",
                               returncode=2) from exc
        path = Path(out) if out else None
        if path is not None and path.exists():
            raise CommandError(f"Le fichier {path} existe déjà : choisissez un autre nom.",
                               returncode=2)
        found = tenancy.communes().named(commune)
        with inside(found):
            target = Regie.objects.filter(number=regie.strip()).first()
            if target is None:
                raise CommandError(f"Aucune régie n° « {regie} » à {found.name}.", returncode=3)
            handover = handover_create(regie=target, due_before=day, min_amount=min_amount,
                                       actor=Actor.system(self.actor_name))
        said = (f"{handover} ({found.name}, régie {target.number}) : {handover.count} "
                f"titre(s), {euros(handover.total)}")
        if path is None:
            self.stdout.write(f"{said} ; fichier PES : opsn pes_export {found.insee_code} "
                              f"--handover {handover.pk} --out FICHIER (SHA-256 "
                              f"{handover.sha256}).")
            return
        path.write_bytes(bytes(handover.file))
        self.stdout.write(f"{said} ; fichier {path} (SHA-256 {handover.sha256}).")
