from django.core.management.base import CommandError

from opsn.direct_debit.services import creditor_set
from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.commands import DomainCommand
from opsn.kernel.tenancy import inside
from opsn.regies.models import Regie


class Command(DomainCommand):
    help = ("Enregistre la régie comme créancier SEPA : son identifiant créancier (ICS, "
            "FRkk ZZZ nnnnnn, chiffres de contrôle vérifiés) et le compte DFT (IBAN, BIC) où "
            "les prélèvements sont versés, avec le nom qui figure sur les relevés des "
            "familles (docs/direct-debit.md). Le relancer avec d'autres valeurs les remplace.")

    def add_arguments(self, parser):
        parser.add_argument("commune", help="code INSEE, slug ou schéma")
        parser.add_argument("regie", help="numéro de la régie")
        parser.add_argument("--ics", required=True)
        parser.add_argument("--iban", required=True, help="IBAN du compte DFT de la régie")
        parser.add_argument("--bic", required=True)
        parser.add_argument("--name", required=True,
                            help="nom du créancier (70 caractères au plus)")

    def handle(self, *args, commune, regie, ics, iban, bic, name, **options):
        found = tenancy.communes().named(commune)
        with inside(found):
            try:
                target = Regie.objects.get(number=regie)
            except Regie.DoesNotExist:
                raise CommandError(f"Aucune régie « {regie[:40]} » à {found.name}.",
                                   returncode=3) from None
            creditor = creditor_set(regie=target, ics=ics, iban=iban, bic=bic, name=name,
                                    actor=Actor.system("sepa_creditor"))
        self.stdout.write(f"{found.name}, régie {target.number} : créancier {creditor.name}, "
                          f"ICS {creditor.ics}, compte {creditor.iban_masked} ({creditor.bic})")
