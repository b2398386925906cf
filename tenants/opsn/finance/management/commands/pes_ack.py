from pathlib import Path

from django.core.management.base import CommandError

from opsn.finance.acks import MAX_BYTES, ack_import, handover_acknowledged
from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.commands import DomainCommand
from opsn.kernel.tenancy import inside


class Command(DomainCommand):
    help = ("Importe l'accusé de réception (PES_ACK) du comptable public pour un bordereau de "
            "titres transmis : les titres acceptés ne peuvent plus être annulés, les titres "
            "rejetés rendent leur facture à la régie (payable de nouveau), avec le motif. "
            "Le même accusé importé deux fois ne change rien. Statut 2 pour un fichier "
            "invalide ou un autre bordereau (rien n'est changé), 3 pour une commune inconnue.")

    def add_arguments(self, parser):
        parser.add_argument("commune", help="code INSEE, slug ou schéma")
        parser.add_argument("file", help="le fichier PES_ACK reçu")

    def handle(self, *args, commune, file, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"Le fichier {path} n'existe pas.", returncode=2)
        if path.stat().st_size > MAX_BYTES:
            raise CommandError(f"Le fichier {path} est trop gros pour un accusé de réception "
                               f"PES ({MAX_BYTES // (1024 * 1024)} Mo au plus).", returncode=2)
        data = path.read_bytes()
        found = tenancy.communes().named(commune)
        with inside(found):
            handover = handover_acknowledged(data)
            result = ack_import(handover=handover, data=data, file_name=path.name,
                                actor=Actor.system("pes_ack"))
            handover.refresh_from_db()
        if not result.changed:
            self.stdout.write(f"Accusé déjà importé pour le {handover} : rien n'est changé.")
            return
        self.stdout.write(f"{handover} ({found.name}) : {len(result.accepted)} titre(s) "
                          f"accepté(s), {len(result.rejected)} rejeté(s) ; état : "
                          f"{handover.get_state_display()}.")
        for piece, number, reason in result.rejected:
            self.stdout.write(f"  titre {piece}, facture {number} rejetée : "
                              f"{reason or 'sans motif'} — la facture est de nouveau payable "
                              "à la régie.")
