from pathlib import Path

from django.core.management.base import CommandError

from opsn.direct_debit.returns import returns_import
from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.commands import DomainCommand
from opsn.kernel.tenancy import inside


class Command(DomainCommand):
    help = ("Importe le rapport de la banque sur les prélèvements SEPA rejetés ou retournés "
            "(camt.054, docs/regie-imports.md) : chaque retour annule son paiement au journal "
            "(quittance d'annulation), rouvre la facture, garde le code motif, prévient la "
            "famille et le régisseur ; deux retours suspendent le mandat. Un fichier déjà "
            "importé est refusé ; un retour inconnu ou déjà enregistré est ignoré et dit.")

    def add_arguments(self, parser):
        parser.add_argument("commune", help="code INSEE, slug ou schéma")
        parser.add_argument("file", help="fichier camt.054 (XML)")

    def handle(self, *args, commune, file, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"Aucun fichier « {file[:200]} ».", returncode=3)
        content = path.read_bytes()
        found = tenancy.communes().named(commune)
        with inside(found):
            imported = returns_import(content=content, file_name=path.name,
                                      actor=Actor.system("sepa_returns"))
        self.stdout.write(f"{found.name} : {imported.returned} prélèvement(s) retourné(s) "
                          f"enregistré(s), {len(imported.ignored)} ignoré(s)")
        for item in imported.ignored:
            where = f"ligne {item['line']} : " if item.get("line") else ""
            self.stdout.write(f"  {where}{item['why']}")
