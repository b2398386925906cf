from opsn.communes.selectors import communes_search
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = "List onboarded communes (search and filters)."

    def add_arguments(self, parser):
        parser.add_argument("q", nargs="?", default="", help="name, INSEE code, domain")
        parser.add_argument("--status", default="", choices=["", "active", "suspended"])
        parser.add_argument("--module", default="")
        parser.add_argument("--departement", default="")
        parser.add_argument("--epci", default="")

    def handle(self, *args, q, status, module, departement, epci, **options):
        rows = communes_search(q=q, status=status, module=module, departement=departement,
                               epci=epci)
        for c in rows:
            self.stdout.write("\t".join([
                c.insee_code, c.name, c.status, str(c.population or ""),
                ",".join(cm.module_id for cm in c.communemodule_set.all()),
                ",".join(d.domain for d in c.domains.all()),
                c.onboarded_at.date().isoformat(),
            ]))
