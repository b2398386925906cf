"""Print the current second-factor code of the demo accounts (demo only)."""

import pyotp

from opsn.kernel.commands import DomainCommand
from opsn.operations.management.commands.demo import DEMO_TOTP_SECRET


class Command(DomainCommand):
    help = "Print the current TOTP code of the demo's agents and operator (demo only)."

    def handle(self, *args, **options):
        self.stdout.write(pyotp.TOTP(DEMO_TOTP_SECRET).now())
