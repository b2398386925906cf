import datetime
from pathlib import Path

from django.core.management.base import CommandError

from opsn.direct_debit.errors import DirectDebitError
from opsn.direct_debit.services import collect
from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.commands import DomainCommand
from opsn.kernel.tenancy import inside
from opsn.regies.models import Regie


class Command(DomainCommand):
    help = ("Prépare la remise de prélèvements SEPA d'une régie pour une date d'échéance : "
            "les factures restant dues des payeurs ayant un mandat actif, en un fichier "
            "pain.008.001.02 vérifié contre le schéma ISO 20022 (docs/direct-debit.md). La "
            "remise, ses totaux et ses lignes sont conservés ; une facture déjà prélevée ne "
            "l'est pas deux fois.")

    def add_arguments(self, parser):
        parser.add_argument("commune", help="code INSEE, slug ou schéma")
        parser.add_argument("regie", help="numéro de la régie")
        parser.add_argument("--date", required=True, help="date d'échéance (AAAA-MM-JJ)")
        parser.add_argument("--out", required=True, help="fichier pain.008 à écrire")

    def handle(self, *args, commune, regie, date, out, **options):
        try:
            day = datetime.date.fromisoformat(date)
        except ValueError:
            raise DirectDebitError(f"La date « {date[:40]} » n'est pas une date AAAA-MM-JJ.",
                                   field="date") from None
        path = Path(out)
        if not path.parent.is_dir():
            raise CommandError(f"Aucun dossier « {path.parent} » pour écrire le fichier.",
                               returncode=3)
        found = tenancy.communes().named(commune)
        with inside(found):
            try:
                target = Regie.objects.get(number=regie)
            except Regie.DoesNotExist:
                raise CommandError(f"Aucune régie « {regie[:40]} » à {found.name}.",
                                   returncode=3) from None
            collection = collect(regie=target, collection_date=day,
                                 actor=Actor.system("sepa_collect"))
        path.write_text(collection.xml, encoding="utf-8")
        self.stdout.write(f"{found.name}, régie {target.number} : remise {collection.message_id}"
                          f" du {day:%d/%m/%Y}, {collection.count} prélèvement(s), "
                          f"{collection.total} € → {path}")
