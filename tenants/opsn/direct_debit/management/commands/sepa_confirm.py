import datetime

from django.core.management.base import CommandError

from opsn.direct_debit.booking import collection_confirm, collection_find
from opsn.direct_debit.errors import DirectDebitError
from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.commands import DomainCommand
from opsn.kernel.tenancy import inside
from opsn.regies.models import Regie


class Command(DomainCommand):
    help = ("Enregistre la confirmation par la banque d'une remise de prélèvements SEPA : "
            "chaque prélèvement crédité entre au journal de la régie (mode prélèvement SEPA, "
            "quittances sans trou), daté du jour où l'argent est arrivé (l'échéance de la "
            "remise, ou --date), jamais refusé pour une journée arrêtée "
            "(docs/direct-debit.md). Une confirmation rejouée est refusée et ne change rien.")

    def add_arguments(self, parser):
        parser.add_argument("commune", help="code INSEE, slug ou schéma")
        parser.add_argument("regie", help="numéro de la régie")
        parser.add_argument("collection", help="identifiant de la remise (MsgId) ou son numéro")
        parser.add_argument("--date", default="",
                            help="jour où la banque a crédité le compte (AAAA-MM-JJ ; par "
                                 "défaut l'échéance de la remise)")

    def handle(self, *args, commune, regie, collection, date, **options):
        day = None
        if date:
            try:
                day = datetime.date.fromisoformat(date)
            except ValueError:
                raise DirectDebitError(f"La date « {date[:40]} » n'est pas une date "
                                       "AAAA-MM-JJ.", field="date") from None
        found = tenancy.communes().named(commune)
        with inside(found):
            try:
                target = Regie.objects.get(number=regie)
            except Regie.DoesNotExist:
                raise CommandError(f"Aucune régie « {regie[:40]} » à {found.name}.",
                                   returncode=3) from None
            confirmed = collection_confirm(collection=collection_find(target, collection),
                                           actor=Actor.system("sepa_confirm"),
                                           credited_on=day)
        self.stdout.write(
            f"{found.name}, régie {target.number} : remise {confirmed.collection.message_id} "
            f"créditée le {confirmed.credited_on:%d/%m/%Y}, {confirmed.count} prélèvement(s) "
            f"enregistré(s), {confirmed.total} €, quittances {confirmed.first_receipt or '–'} "
            f"à {confirmed.last_receipt or '–'}"
            + (f" ; {confirmed.to_credit} à l'avoir du payeur" if confirmed.to_credit else ""))
