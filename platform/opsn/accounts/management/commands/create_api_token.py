from django.core.management.base import CommandError

from opsn.accounts.models import OperatorApiToken
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = "Create a token for the operator's HTTP API. The token is shown once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="who or what uses it, e.g. 'billing-scripts'")

    def handle(self, *args, name, **options):
        if OperatorApiToken.objects.filter(name=name).exists():
            raise CommandError(f"a token named {name!r} already exists", returncode=4)
        _, raw = OperatorApiToken.issue(name)
        self.stdout.write(raw)
