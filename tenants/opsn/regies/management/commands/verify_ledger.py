from django.core.management.base import CommandError

from opsn.kernel import tenancy
from opsn.kernel.commands import DomainCommand
from opsn.kernel.tenancy import inside
from opsn.regies.chain import verify_chain
from opsn.regies.models import Regie


class Command(DomainCommand):
    help = ("Verify the hash chain of a commune's régies (all, or one by number) and name the "
            "first broken link. Exit status 1 if a chain is broken.")

    def add_arguments(self, parser):
        parser.add_argument("commune", help="INSEE code or slug")
        parser.add_argument("regie", nargs="?", help="régie number (default: all)")

    def handle(self, *args, commune, regie, **options):
        found = tenancy.communes().named(commune)
        with inside(found):
            regies = Regie.objects.all() if regie is None else Regie.objects.filter(number=regie)
            if not regies.exists():
                raise CommandError(f"Aucune régie « {regie} » à {found.name}.", returncode=3)
            broken = []
            for item in regies:
                entry = verify_chain(item)
                if entry is None:
                    self.stdout.write(f"{item}: chaîne intègre ({item.entries.count()} écritures)")
                else:
                    broken.append(item)
                    self.stdout.write(f"{item}: CHAÎNE ROMPUE à la quittance {entry.receipt} "
                                      f"(écriture {entry.pk})")
        if broken:
            raise CommandError(f"{len(broken)} régie(s) dont la chaîne est rompue.", returncode=1)
