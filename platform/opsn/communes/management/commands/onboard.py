from opsn.communes import services
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = "Onboard one commune from its INSEE code (schema, domains, branding, modules)."

    def add_arguments(self, parser):
        parser.add_argument("insee_code")
        parser.add_argument("--module", action="append", dest="modules", default=None,
                            help="module code (repeat); default: the catalogue's defaults")
        parser.add_argument("--domain", action="append", dest="domains", default=[],
                            help="custom domain (repeat)")
        parser.add_argument("--admin-email", default=None,
                            help="e-mail of the commune's first administrator (invited)")
        parser.add_argument("--database", default=None,
                            help="database alias for its schema (default: "
                                 "OPSN_NEW_COMMUNE_DATABASE, else the least filled)")

    def handle(self, *args, insee_code, modules, domains, admin_email, database, **options):
        commune = services.commune_onboard(insee_code=insee_code, modules=modules,
                                           custom_domains=domains, admin_email=admin_email,
                                           database=database)
        self.stdout.write(self.style.SUCCESS(
            f"{commune.name} ({commune.insee_code}) onboarded: schema {commune.schema_name} "
            f"in database {commune.database}, "
            f"domains {', '.join(d.domain for d in commune.domains.all())}"))
