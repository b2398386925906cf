"""Start the platform with demo data: the 8 SITIV communes from real INSEE data."""

import datetime
import os
import signal

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from opsn.agents.models import AgentRole, Role
from opsn.billing import services as billing
from opsn.billing.models import PricingRule
from opsn.communes import services
from opsn.communes.models import Commune
from opsn.idp import store
from opsn.idp.models import Identity
from opsn.kernel.commands import DomainCommand
from opsn.kernel.tenancy import inside
from opsn.operations.demo_regies import regies_demo
from opsn.operations.server import serve_until_stopped
from opsn.referentiel.loader import ensure_loaded
from opsn.referentiel.models import DataRelease

# The SITIV's 8 communes (see ../shared/seeds/003_…): Corbas, Givors, Grigny (now
# Grigny-sur-Rhône), Pierre-Bénite (69152, merged into Oullins-Pierre-Bénite 69149 on
# 1 January 2024), Rive-de-Gier, Saint-Chamond, Vaulx-en-Velin, Vénissieux.
SITIV = ["69273", "69091", "69096", "69149", "42186", "42207", "69256", "69259"]
DEMO_PASSWORD = "demo-opsn"  # noqa: S105 - printed on screen: demo accounts only
OPERATOR_ACCOUNT = "operateur@opsn.demo"
# Agents of two communes (an administrator and a régisseur titulaire each), and citizens.
AGENTS = [("69259", "admin@venissieux.demo", Role.ADMINISTRATOR, "Awa", "Diallo"),
          ("69259", "regisseur@venissieux.demo", Role.REGISSEUR, "Marie", "Lefèvre"),
          ("69256", "admin@vaulx-en-velin.demo", Role.ADMINISTRATOR, "Karim", "Benali"),
          ("69256", "regisseur@vaulx-en-velin.demo", Role.REGISSEUR, "Julie", "Martin")]
CITIZENS = [("camille.durand@citoyen.demo", "Camille", "Durand", "1985-04-12"),
            ("lucas.bernard@citoyen.demo", "Lucas", "Bernard", "1992-11-03")]
# Demo accounts only: a fixed TOTP secret, so the codes can be shown (opsn demo_code).
DEMO_TOTP_SECRET = "OPSNDEMOOPSNDEMOOPSNDEMOOPSNDEMO"  # noqa: S105


class Command(DomainCommand):
    help = "Prepare the demo data (idempotent) and start the web server."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true",
                            help="prepare the data and exit")

    def handle(self, *args, port, no_serve, **options):
        if "OPSN_PUBLIC_PORT" not in os.environ:
            # Links in e-mails, receipts and PayFiP's return URLs carry the demo's port.
            settings.OPSN_PUBLIC_PORT = port
        self.stdout.write("Préparation de la base…")
        call_command("migrate_communes", verbosity=0)
        ensure_loaded()
        batch = services.batch_create(label="SITIV (démo)", insee_codes=SITIV)
        services.batch_run(batch)
        if settings.OPSN_IDP == "local" and "OPSN_OIDC_ISSUER" not in os.environ:
            # The browser reaches the local provider on the demo's port.
            settings.OPSN_OIDC_ISSUER = f"http://{settings.OPSN_IDP_HOST}:{port}"
        if settings.OPSN_PAYFIP == "local" and "OPSN_PAYFIP_LOCAL_URL" not in os.environ:
            # The browser reaches the local PayFiP test provider on the portal, same port.
            settings.OPSN_PAYFIP_LOCAL_URL = (f"http://{settings.OPSN_BASE_DOMAIN}:{port}"
                                              "/payfip-local")
        self._pricing_rules()
        self._accounts()
        rows = []
        for commune in Commune.objects.filter(insee_code__in=SITIV).order_by("name"):
            account = f"admin@{commune.slug}.demo"
            self._agent(commune.insee_code, account, Role.ADMINISTRATOR, "", "")
            regie_agents = regies_demo(commune)  # a canteen régie ready for the counter
            self._agent(commune.insee_code, regie_agents["regisseur"], Role.REGISSEUR, "", "")
            self._agent(commune.insee_code, regie_agents["mandataire"], Role.MANDATAIRE, "", "")
            rows.append((commune.name, f"http://{commune.primary_domain}:{port}/", account))

        out = self.stdout.write
        out("")
        out(self.style.SUCCESS(f"Plateforme {settings.OPSN_OPERATOR['short_name']} prête."))
        out(f"  Console de l'opérateur : http://{settings.OPSN_CONSOLE_HOST}:{port}/")
        out(f"  API (OpenAPI)          : http://{settings.OPSN_CONSOLE_HOST}:{port}/api/v1/docs")
        out(f"  Portail                : http://{settings.OPSN_BASE_DOMAIN}:{port}/")
        out(f"  Facturation            : http://{settings.OPSN_CONSOLE_HOST}:{port}/facturation/")
        out(f"  Connexion (OpenID)     : {settings.OPSN_OIDC_ISSUER}/")
        out("  Communes :")
        for name, url, _account in rows:
            out(f"    {name:<22} {url}")
        out("")
        out(f"Comptes de démonstration (mot de passe {DEMO_PASSWORD}) :")
        out(f"  {OPERATOR_ACCOUNT:<34} équipe de l'opérateur (console)")
        for insee, account, role, _g, _f in AGENTS:
            out(f"  {account:<34} {Role(role).label}, {insee}")
        out("  admin@<commune>.demo               administrateur de chaque commune")
        out("  regisseur@<commune>.demo           titulaire de la régie « Cantine et "
            "périscolaire » (/espace/regies/)")
        out("  caisse@<commune>.demo              mandataire de cette régie")
        for account, *_ in CITIZENS:
            out(f"  {account:<34} citoyen (sans double authentification)")
        out("  camille.durand@citoyen.demo se rattache par adresse électronique à la « Famille "
            "Durand » de chaque commune et paie sa facture en ligne (PayFiP de test).")
        out("Agents et opérateur : double authentification, code TOTP de la clé "
            f"{DEMO_TOTP_SECRET}")
        out("  (application d'authentification, ou : opsn demo_code)")
        if no_serve:
            return
        out("")
        out("Arrêt : Ctrl-C (le serveur, puis la base de données intégrée, s'arrêtent).")
        # The production server (gunicorn), as a child: this process keeps the embedded
        # database and stops it when it exits, once the server has stopped.
        status = serve_until_stopped(
            f"127.0.0.1:{port}", OPSN_PUBLIC_PORT=str(settings.OPSN_PUBLIC_PORT),
            OPSN_OIDC_ISSUER=settings.OPSN_OIDC_ISSUER,
            OPSN_PAYFIP_LOCAL_URL=settings.OPSN_PAYFIP_LOCAL_URL)
        if status not in (0, -signal.SIGINT, -signal.SIGTERM):
            raise CommandError(f"le serveur web s'est arrêté (code {status})", returncode=1)

    def _agent(self, insee: str, account: str, role: str, given: str, family: str) -> None:
        user = store.account_ensure(account, password=DEMO_PASSWORD, given_name=given,
                                    family_name=family)
        store.membership_add(user, store.commune_group(insee, role))
        self._demo_totp(user)
        commune = Commune.objects.filter(insee_code=insee).first()
        if commune is not None:
            with inside(commune):
                AgentRole.objects.get_or_create(account=account, role=role,
                                                defaults={"granted_by": "demo"})

    def _demo_totp(self, user) -> None:
        Identity.objects.filter(user=user).update(totp_secret=DEMO_TOTP_SECRET)

    def _accounts(self) -> None:
        user = store.account_ensure(OPERATOR_ACCOUNT, password=DEMO_PASSWORD,
                                    given_name="Équipe", family_name="Opérateur")
        store.membership_add(user, store.STAFF_GROUP)
        self._demo_totp(user)
        for insee, account, role, given, family in AGENTS:
            self._agent(insee, account, role, given, family)
        for account, given, family, born in CITIZENS:
            store.account_ensure(account, password=DEMO_PASSWORD, given_name=given,
                                 family_name=family,
                                 birthdate=datetime.date.fromisoformat(born))

    def _pricing_rules(self) -> None:
        """This year's rules, so that the billing pages have something to show."""

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
