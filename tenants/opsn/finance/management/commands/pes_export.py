from pathlib import Path

from django.core.management.base import CommandError

from opsn.finance.deposit_pes import deposit_pes
from opsn.finance.models import UnpaidHandover
from opsn.kernel import tenancy
from opsn.kernel.commands import DomainCommand
from opsn.kernel.tenancy import inside
from opsn.regies.models import Deposit


def _number(value: str, what: str) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise CommandError(f"« {value} » n'est pas un numéro de {what}.", returncode=2)
    return int(text)


class Command(DomainCommand):
    help = ("Écrit le fichier PES V2 « PES_Aller » d'un bordereau de transmission des impayés "
            "(--handover N, le fichier tel qu'il a été écrit) ou d'un versement (--deposit N, "
            "son titre de régularisation : une ligne par imputation). N est l'identifiant "
            "qu'utilisent les pages et l'API (…/transmissions/N/, …/deposits/N). Statut 2 "
            "pour une entrée invalide ou rien à exporter, 3 pour une commune, un bordereau "
            "ou un versement inconnu.")

    def add_arguments(self, parser):
        parser.add_argument("commune", help="code INSEE, slug ou schéma")
        parser.add_argument("--handover", default=None, help="l'identifiant du bordereau")
        parser.add_argument("--deposit", default=None, help="l'identifiant du versement")
        parser.add_argument("--out", required=True, help="le fichier PES à écrire (nouveau)")

    def handle(self, *args, commune, out, handover=None, deposit=None, **options):
        if (handover is None) == (deposit is None):
            raise CommandError("Donnez soit --handover N (un bordereau de transmission), soit "
                               "--deposit N (un versement), pas les deux ni aucun.",
                               returncode=2)
        path = Path(out)
        if path.exists():
            raise CommandError(f"Le fichier {path} existe déjà : choisissez un autre nom.",
                               returncode=2)
        found = tenancy.communes().named(commune)
        with inside(found):
            if handover is not None:
                pk = _number(handover, "bordereau")
                done = UnpaidHandover.objects.filter(pk=pk).first()
                if done is None:
                    raise CommandError(f"Aucun bordereau de transmission n° {pk} à "
                                       f"{found.name}.", returncode=3)
                what, data = f"{done} ({done.count} titre(s))", bytes(done.file)
            else:
                pk = _number(deposit or "", "versement")
                made = Deposit.objects.select_related("regie").filter(pk=pk).first()
                if made is None:
                    raise CommandError(f"Aucun versement n° {pk} à {found.name}.",
                                       returncode=3)
                _, data = deposit_pes(made)
                what = f"{made} de la régie {made.regie.number} (titre de régularisation)"
        path.write_bytes(data)
        self.stdout.write(f"{what}, {found.name} : fichier {path}.")
