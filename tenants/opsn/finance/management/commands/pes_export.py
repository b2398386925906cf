import re
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


SLIP = re.compile(r"^V([0-9]{4})-([0-9]{1,9})$")


def _deposit(value: str, commune: str) -> Deposit:
    """A deposit by its identifier (57) or by its régie and slip (R-001/V2026-0003)."""
    if "/" not in value:
        pk = _number(value, "versement")
        found = Deposit.objects.select_related("regie").filter(pk=pk).first()
        if found is None:
            raise CommandError(f"Aucun versement n° {pk} à {commune}.", returncode=3)
        return found
    regie, _, slip = value.strip().rpartition("/")
    matched = SLIP.match(slip.strip())
    if matched is None:
        raise CommandError(f"« {slip} » n'est pas un numéro de versement (V2026-0003).",
                           returncode=2)
    found = (Deposit.objects.select_related("regie")
             .filter(regie__number=regie.strip(), year=int(matched[1]),
                     number=int(matched[2])).first())
    if found is None:
        raise CommandError(f"Aucun versement {slip} de la régie « {regie} » à {commune}.",
                           returncode=3)
    return found


class Command(DomainCommand):
    help = ("Écrit le fichier PES V2 « PES_Aller » d'un bordereau de transmission des impayés "
            "(--handover N : le fichier tel qu'il a été écrit ; N est l'identifiant des "
            "pages et de l'API, …/transmissions/N/) ou d'un versement (--deposit "
            "R-001/V2026-0003, ou son identifiant : son titre de régularisation, une ligne "
            "par imputation). Statut 2 pour une entrée invalide ou rien à exporter, 3 pour "
            "une commune, un bordereau ou un versement inconnu.")

    def add_arguments(self, parser):
        parser.add_argument("commune", help="code INSEE, slug ou schéma")
        parser.add_argument("--handover", default=None, help="l'identifiant du bordereau")
        parser.add_argument("--deposit", default=None,
                            help="la régie et le numéro du versement (R-001/V2026-0003), "
                                 "ou son identifiant")
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
                made = _deposit(deposit or "", found.name)
                _, data = deposit_pes(made)
                what = f"{made} de la régie {made.regie.number} (titre de régularisation)"
        path.write_bytes(data)
        self.stdout.write(f"{what}, {found.name} : fichier {path}.")
