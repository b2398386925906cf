from opsn.communes import services
from opsn.communes.models import Commune
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = "Add or remove a commune's custom domain."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["add", "remove"])
        parser.add_argument("commune", help="INSEE code or slug")
        parser.add_argument("domain")

    def handle(self, *args, action, commune, domain, **options):
        found = Commune.objects.named(commune)
        if action == "add":
            services.domain_add(commune=found, domain=domain)
        else:
            services.domain_remove(commune=found, domain=domain)
        self.stdout.write(f"{found.name}: {', '.join(d.domain for d in found.domains.all())}")
