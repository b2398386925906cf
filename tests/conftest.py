"""Shared fixtures.

The test database is created once per worker; on it, once per session: the official data
is loaded, a pool of spare schemas is built, and two communes (Vénissieux, Vaulx-en-Velin)
are onboarded and committed. Tests run inside a transaction that is rolled back (DDL too:
PostgreSQL's DDL is transactional), so onboarding in a test costs a schema rename, and
the shared communes are never rebuilt.
"""

from __future__ import annotations

import os
import time
from urllib.parse import quote, urlsplit

import pyotp
import pytest
from django.core.cache import cache
from django.db import connection, connections
from django.test import Client, override_settings
from django.test.utils import setup_databases, teardown_databases

from opsn.accounts.models import OperatorApiToken
from opsn.agents.models import AgentRole
from opsn.communes import routing, schemas, services
from opsn.communes.models import Commune, CommuneArchive, SpareSchema
from opsn.idp import store
from opsn.kernel import tenancy
from opsn.kernel.tenancy import inside
from opsn.referentiel.loader import ensure_loaded

VENISSIEUX = "69259"
VAULX = "69256"
SESSION_COMMUNES = (VENISSIEUX, VAULX)
PASSWORD = "correct horse battery staple"
# The second commune database (tests/databases.py): the system PostgreSQL when it answers.
EAST = "east"
BOTH_DATABASES = pytest.mark.django_db(databases=["default", EAST])


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """Always create the test database, even for a run whose tests only use ``committed``
    (pytest-django would otherwise leave the connection on the real database)."""


    # No background refill of the spare pool: threads outliving a test see half-torn state.
    with django_db_blocker.unblock(), override_settings(OPSN_SCHEMA_POOL_SIZE=0,
                                                       OPSN_NEW_COMMUNE_DATABASE="default"):
        config = setup_databases(verbosity=0, interactive=False, aliases={"default", EAST})
        assert connection.settings_dict["NAME"].startswith("test_"), "not a test database"
        assert connections[EAST].settings_dict["NAME"].startswith("test_"), "not a test database"
        # Processes the tests start (opsn serve, a killed job) find the same two databases.
        os.environ["OPSN_COMMUNE_DATABASES"] = f"{EAST}={database_url(EAST)}"
        os.environ["OPSN_NEW_COMMUNE_DATABASE"] = "default"
        ensure_loaded()
        schemas.fill_spare_pool(4)
        schemas.fill_spare_pool(2, database=EAST)
        for code in SESSION_COMMUNES:
            services.commune_onboard(insee_code=code)
        connection.set_schema_to_public()
    yield
    with django_db_blocker.unblock():
        connection.close()
        teardown_databases(config, verbosity=0)


def database_url(alias: str = "default") -> str:
    """The URL of a test database, for the processes a test starts."""

    db = connections[alias].settings_dict
    return f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(autouse=True)
def _public_schema_and_settings(settings):
    settings.OPSN_JOBS_MODE = "inline"
    settings.OPSN_SCHEMA_POOL_SIZE = 0  # no background refill threads inside test transactions
    settings.OPSN_NEW_COMMUNE_DATABASE = "default"  # tests that want another database say so
    settings.OPSN_MOVE_SETTLE_SECONDS = 0
    tenancy.enter(None)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Password hashing is deliberately slow; the tests sign in often.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    connection.set_schema_to_public()

    routing.forget_all()
    # The cache (sign-in attempt counters, nonces already seen) is a table: a test's rows
    # roll back with it; ``committed`` clears it.
    yield
    connection.set_schema_to_public()


@pytest.fixture
def committed(django_db_setup, django_db_blocker, settings, tmp_path):
    """For tests whose work is seen by other connections or processes (pg_dump, parallel
    migrations): no wrapping transaction. Cleans up what the test added."""

    settings.OPSN_EXPORT_DIR = tmp_path / "exports"
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_db_blocker.unblock():
        assert connection.settings_dict["NAME"].startswith("test_")

        cache.clear()
        spares = set(SpareSchema.objects.values_list("schema_name", flat=True))
        yield
        cache.clear()
        connection.set_schema_to_public()
        tenancy.enter(None)
        for commune in Commune.objects.exclude(insee_code__in=SESSION_COMMUNES):
            for alias in connections:  # a move may have left it in either
                schemas.drop_schema(commune.schema_name, alias)
            commune.delete()
        for spare in SpareSchema.objects.exclude(schema_name__in=spares):
            schemas.drop_schema(spare.schema_name, spare.database)
            spare.delete()
        CommuneArchive.objects.all().delete()


def wipe_billing() -> None:
    """After a ``committed`` billing test: remove its invoices. The database refuses to
    delete invoices, so the guard is lifted for this test data only."""
    with connection.cursor() as cursor:
        for statement in ("ALTER TABLE billing_invoice DISABLE TRIGGER USER",
                          "ALTER TABLE billing_invoiceline DISABLE TRIGGER USER",
                          "DELETE FROM billing_invoiceline", "DELETE FROM billing_invoice",
                          "DELETE FROM billing_billingrun", "DELETE FROM billing_invoicesequence",
                          "DELETE FROM billing_populationbracket",
                          "DELETE FROM billing_pricingrule",
                          "ALTER TABLE billing_invoice ENABLE TRIGGER USER",
                          "ALTER TABLE billing_invoiceline ENABLE TRIGGER USER"):
            cursor.execute(statement)


def wipe_regies() -> None:
    """After a ``committed`` régies test, inside the commune's schema: remove what it
    wrote. The database refuses to delete history, so the guards are lifted for this test
    data only."""
    tables = ["online_payments_onlinepayment", "online_payments_payfipaccount",
              "audit_auditevent", "regies_importedpayment", "regies_allocation",
              "regies_depositline", "regies_deposit", "regies_closingline",
              "regies_dailyclosing", "regies_ledgerentry", "regies_receiptcounter",
              "regies_holding", "regies_invoiceline", "regies_invoice", "regies_importbatch",
              "regies_payer", "regies_product", "regies_handover", "regies_standin",
              "regies_regiemerge", "regies_assignment", "regies_regie", "agents_agentrole"]
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no user triggers
        try:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


@pytest.fixture
def venissieux(db) -> Commune:
    return Commune.objects.get(insee_code=VENISSIEUX)


@pytest.fixture
def vaulx(db) -> Commune:
    return Commune.objects.get(insee_code=VAULX)


def host_of(commune: Commune) -> str:
    return commune.primary_domain


# --- Signing in ---------------------------------------------------------------------------
# The one place the tests create accounts, grant roles and sign in. Accounts live in the
# local OpenID Connect provider's store (idp); signing in drives the real protocol:
# /compte/connexion/ on the host → the provider's authorization endpoint → its sign-in
# form (e-mail, password) → the second factor for agents and staff (TOTP) → the host's
# callback, which redeems the code and checks the signed ID token.

IDP_HOST = "connexion.localhost"


class Browser:
    """One test client per host, as a browser keeps one cookie jar per host."""

    def __init__(self):
        self.clients: dict[str, Client] = {}
        self.visited: list[str] = []

    def client(self, host: str) -> Client:
        return self.clients.setdefault(host, Client(HTTP_HOST=host))

    def go(self, url: str, *, host: str, data: dict | None = None):
        """GET (or POST ``data``) ``url`` on ``host`` and follow redirects across hosts;
        returns (final host, response)."""

        response = (self.client(host).post(url, data) if data is not None
                    else self.client(host).get(url))
        for _ in range(20):
            self.visited.append(f"{host}{url}")
            if response.status_code not in (301, 302, 303):
                return host, response
            location = urlsplit(response["Location"])
            host = (location.hostname or host).lower()
            url = location.path + (f"?{location.query}" if location.query else "")
            response = self.client(host).get(url)
        raise AssertionError("too many redirects: " + " → ".join(self.visited[-5:]))

    def sign_in(self, host: str, account: str, *, password: str | None = None,
                second_factor: bool = True):
        """The whole flow; returns the last response (on ``host`` when it succeeded)."""


        where, page = self.go("/compte/connexion/", host=host)
        if where == IDP_HOST and 'name="password"' in page.content.decode():
            where, page = self.go("/connexion/", host=IDP_HOST, data={
                "email": account, "password": PASSWORD if password is None else password,
                "next": page.context["next"]})
        if where == IDP_HOST and 'name="code"' in page.content.decode() and second_factor:
            user = store.account(account)
            where, page = self.go("/connexion/code/", host=IDP_HOST, data={
                "code": fresh_code(user),
                "next": page.context["next"]})
        return where, page


def fresh_code(user) -> str:
    """The authenticator's code a person would type: each code works once, so a test that
    signs the same agent in twice within 30 seconds types the next one (the provider
    accepts one step ahead, for clock drift)."""

    user.idp_identity.refresh_from_db()
    totp = pyotp.TOTP(user.idp_identity.totp_secret)
    step = max(int(time.time() // totp.interval), user.idp_identity.totp_last_step + 1)
    return totp.at(step * totp.interval)


def make_account(email: str, *, operator: bool = False):
    """A person who can sign in at the local provider with ``PASSWORD`` (the operator's
    staff hold the staff membership and a second factor)."""

    user = store.account_ensure(email, password=PASSWORD)
    if operator:
        store.membership_add(user, store.STAFF_GROUP)
    return user


def grant(commune: Commune, account: str, *roles: str) -> None:
    """``account`` holds ``roles`` in ``commune`` (administrator, régisseur…): memberships
    at the provider (what the next sign-in synchronises) and the commune's rows (for tests
    that call services directly)."""

    user = store.account(account) or store.account_ensure(account, password=PASSWORD)
    for role in roles:
        store.membership_add(user, store.commune_group(commune.insee_code, role))
    with in_schema(commune):
        for role in roles:
            AgentRole.objects.get_or_create(account=account.lower(), role=role)


def sign_in(host: str, account: str) -> Client:
    """A browser signed in as ``account`` on ``host``, through the real sign-in flow."""
    browser = Browser()
    where, page = browser.sign_in(host, account)
    assert where == host and "_auth_user_id" in browser.client(host).session, (
        where, page.status_code, page.content.decode()[:800])
    return browser.client(host)


def sign_in_webtest(app, host: str, account: str):
    """The same, for a WebTest browser (``django_app``) that then drives real forms."""


    def follow(page, current):
        while page.status_int in (301, 302, 303):
            location = urlsplit(page.headers["Location"])
            current = (location.hostname or current).lower()
            page = app.get(location.path + (f"?{location.query}" if location.query else ""),
                           extra_environ={"HTTP_HOST": current})
        return page, current

    page, current = follow(app.get("/compte/connexion/", extra_environ={"HTTP_HOST": host}),
                           host)
    form = next(f for f in page.forms.values() if "password" in f.fields)
    form["email"] = account
    form["password"] = PASSWORD
    page, current = follow(form.submit(extra_environ={"HTTP_HOST": current}), current)
    form = next((f for f in page.forms.values() if "code" in f.fields), None)
    if form is not None:
        user = store.account(account)
        form["code"] = fresh_code(user)
        page, current = follow(form.submit(extra_environ={"HTTP_HOST": current}), current)
    assert current == host, (current, page.status_int, page.text[:800])
    return app


def agent(commune: Commune, account: str, *roles: str) -> Client:
    """An agent of ``commune`` holding ``roles``, signed in on the commune's domain."""
    make_account(account)
    grant(commune, account, *roles)
    return sign_in(commune.primary_domain, account)


@pytest.fixture
def operator(db):
    return make_account("operateur@opsn.test", operator=True)


@pytest.fixture
def console(operator) -> Client:
    """A browser signed in on the operator's console (through the real login form)."""
    return sign_in("console.localhost", operator.username)


@pytest.fixture
def api_token(db) -> str:

    _, raw = OperatorApiToken.issue("tests")
    return raw


@pytest.fixture
def api(api_token) -> Client:
    return Client(HTTP_HOST="console.localhost", HTTP_AUTHORIZATION=f"Bearer {api_token}")


def in_schema(commune: Commune):
    """Context manager: run ORM code inside a commune's schema."""

    return inside(commune)
