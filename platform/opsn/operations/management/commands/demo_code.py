"""Print the current second-factor code of the demo accounts (demo only)."""

import pyotp
from django.core.management.base import BaseCommand

from opsn.operations.management.commands.demo import DEMO_TOTP_SECRET


class Command(BaseCommand):
    help = "Print the current TOTP code of the demo's agents and operator (demo only)."

    def handle(self, *args, **options):
        self.stdout.write(pyotp.TOTP(DEMO_TOTP_SECRET).now())
