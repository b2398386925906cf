"""Start the platform with demo data: the 8 SITIV communes from real INSEE data."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.auth import ensure_local_account
from agents.models import AgentRole, Role
from communes import services
from communes.models import Commune
from communes.tenancy import inside
from operations.demo_regies import regies_demo
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
        self._pricing_rules()
        rows = []
        for commune in Commune.objects.filter(insee_code__in=SITIV).order_by("name"):
            account = f"admin@{commune.slug}.demo"
            ensure_local_account(account, password=DEMO_PASSWORD)
            with inside(commune):
                AgentRole.objects.get_or_create(account=account, role=Role.ADMINISTRATOR,
                                                defaults={"granted_by": "demo"})
            for agent in regies_demo(commune).values():
                ensure_local_account(agent, password=DEMO_PASSWORD)
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
        out("  Régies : dans chaque commune, regisseur@<commune>.demo (titulaire) et "
            "caisse@<commune>.demo (mandataire), même mot de passe, « Cantine et "
            "périscolaire » dans /espace/regies/")
        out(f"  Facturation            : http://{settings.OPSN_CONSOLE_HOST}:{port}/facturation/")
        if no_serve:
            return
        out("")
        call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)

    def _pricing_rules(self) -> None:
        """This year's rules, so that the billing pages have something to show."""
        from django.utils import timezone

        from billing import services as billing
        from billing.models import PricingRule
        from referentiel.models import DataRelease

        year = timezone.localdate().year
        if PricingRule.objects.filter(year=year).exists():
            return
        population_year = DataRelease.objects.latest("population_year").population_year
        for module, cost in (("e-administration", "60000"), ("services-en-ligne", "40000"),
                             ("marches-publics", "25000")):
            billing.rule_set(module=module, year=year, kind="per_inhabitant", annual_cost=cost,
                             operator_share_fraction="0.5", population_year=population_year)
        billing.rule_set(module="espace-citoyen", year=year, kind="tiers",
                         population_year=population_year,
                         brackets=[(0, 20_000, "2500"), (20_000, 50_000, "5000"),
                                   (50_000, None, "7500")])
        billing.rule_set(module="regies", year=year, kind="flat", flat_amount="1500")
        billing.rule_set(module="open-data", year=year, kind="free")
