"""Start the platform with demo data: the 8 SITIV communes from real INSEE data."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.auth import ensure_local_account
from agents.models import AgentRole, Role
from communes import services
from communes.models import Commune
from referentiel.loader import ensure_loaded

# The SITIV's 8 communes (see ../shared/seeds/003_…): Corbas, Givors, Grigny (now
# Grigny-sur-Rhône), Pierre-Bénite (69152, merged into Oullins-Pierre-Bénite 69149 on
# 1 January 2024), Rive-de-Gier, Saint-Chamond, Vaulx-en-Velin, Vénissieux.
SITIV = ["69273", "69091", "69096", "69149", "42186", "42207", "69256", "69259"]
DEMO_PASSWORD = "demo-opsn"  # noqa: S105 - printed on screen: demo accounts only
OPERATOR_ACCOUNT = "operateur@opsn.demo"


class Command(BaseCommand):
    help = "Prepare the demo data (idempotent) and start the web server."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true",
                            help="prepare the data and exit")

    def handle(self, *args, port, no_serve, **options):
        self.stdout.write("Préparation de la base…")
        call_command("migrate_communes", verbosity=0)
        ensure_loaded()
        batch = services.batch_create(label="SITIV (démo)", insee_codes=SITIV)
        services.batch_run(batch)
        ensure_local_account(OPERATOR_ACCOUNT, password=DEMO_PASSWORD, operator=True)
        rows = []
        for commune in Commune.objects.filter(insee_code__in=SITIV).order_by("name"):
            account = f"admin@{commune.slug}.demo"
            ensure_local_account(account, password=DEMO_PASSWORD)
            from django.db import connection

            connection.set_tenant(commune)
            AgentRole.objects.get_or_create(account=account, role=Role.ADMINISTRATOR,
                                            defaults={"granted_by": "demo"})
            connection.set_schema_to_public()
            rows.append((commune.name, f"http://{commune.primary_domain}:{port}/", account))

        out = self.stdout.write
        out("")
        out(self.style.SUCCESS(f"Plateforme {settings.OPSN_OPERATOR['short_name']} prête."))
        out(f"  Console de l'opérateur : http://{settings.OPSN_CONSOLE_HOST}:{port}/")
        out(f"      compte {OPERATOR_ACCOUNT} / mot de passe {DEMO_PASSWORD}")
        out(f"  API (OpenAPI)          : http://{settings.OPSN_CONSOLE_HOST}:{port}/api/v1/docs")
        out(f"  Portail                : http://{settings.OPSN_BASE_DOMAIN}:{port}/")
        out("  Communes (administrateur / mot de passe " + DEMO_PASSWORD + ") :")
        for name, url, account in rows:
            out(f"    {name:<22} {url:<46} {account}")
        if no_serve:
            return
        out("")
        call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
