"""Building blocks for the régies tests: the commune's agents, and factories for a régie
as its founding act makes it (its titulaire appointed), payers and invoices, with the short
names most tests use (``make_regie``…). Call them inside ``in_schema(commune)``. And the
clean-up after a ``committed`` régies test."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.db import connection

from opsn.agents.models import AgentRole, Role
from opsn.kernel.actors import Actor
from opsn.regies.models import AssignmentRole, Invoice, Payer, Regie
from opsn.regies.services import founding, invoicing

ADMIN = Actor(account="admin@venissieux.fr", name="Awa Diallo (administratrice)",
              ip="192.0.2.10")
TITULAIRE = Actor(account="regisseur@venissieux.fr", name="Marie Lefèvre", ip="192.0.2.11")
SUPPLEANT = Actor(account="suppleant@venissieux.fr", name="Karim Benali", ip="192.0.2.12")
MANDATAIRE = Actor(account="caisse@venissieux.fr", name="Julie Martin", ip="192.0.2.13")
STRANGER = Actor(account="autre@venissieux.fr", name="Paul Durand", ip="192.0.2.14")
OPENED = datetime.date(2020, 1, 1)


def make_agents() -> None:
    """The commune's agents (named accounts) and their roles, in the current schema."""
    for actor, role in ((ADMIN, Role.ADMINISTRATOR), (TITULAIRE, Role.REGISSEUR),
                        (SUPPLEANT, Role.SUPPLEANT), (MANDATAIRE, Role.MANDATAIRE),
                        (STRANGER, Role.MANDATAIRE)):
        AgentRole.objects.get_or_create(account=actor.account, role=role)


# --- Factories -----------------------------------------------------------------------------
# Each row is made as the product makes it: through its service (founding.regie_create,
# invoicing.payer_create, invoicing.invoice_issue), never with the ORM, so that the audit
# events, the numbers and the database's triggers are those of real use. Hence
# ``factory.Factory`` with a ``_create`` of its own rather than ``DjangoModelFactory``,
# which would also write with ``objects.using("default")`` where a commune's rows belong to
# the commune's database. Call them inside ``in_schema(commune)``; they only create.

FAMILY_NAMES = ["Martin", "Bernard", "Dubois", "Diallo", "Nguyen", "Moreau", "Laurent",
                "Benali", "Girard", "Fontaine", "Lefèvre", "Da Silva", "Roux", "Haddad"]
REGIE_NAMES = ["Cantine et périscolaire", "Piscine municipale", "Médiathèque",
               "Conservatoire de musique", "Droits de place", "Centre de loisirs"]


class RegieFactory(factory.Factory):
    """A régie as its founding act makes it, opened in 2020, the commune's agents named, its
    titulaire appointed; with ``staff`` (the default) also a suppléant and a mandataire."""

    class Meta:
        model = Regie

    number = factory.Sequence(lambda n: f"REG-{n + 1:04d}")
    name = factory.Iterator(REGIE_NAMES)
    accepted_modes = factory.LazyFunction(lambda: ["cash", "cheque", "card", "transfer",
                                                   "other"])
    cash_limit = "2000"
    cash_float = "50"
    accountant = "SGC de Vénissieux"
    starts_on = OPENED
    staff = True

    @classmethod
    def _create(cls, model_class, *, staff: bool, **founding_act) -> Regie:
        make_agents()
        regie = founding.regie_create(actor=ADMIN, **founding_act)
        founding.assignment_grant(regie=regie, actor=ADMIN, account=TITULAIRE.account,
                                  role=AssignmentRole.TITULAIRE, starts_on=OPENED)
        if staff:
            founding.assignment_grant(regie=regie, actor=ADMIN, account=SUPPLEANT.account,
                                      role=AssignmentRole.SUPPLEANT, starts_on=OPENED)
            founding.assignment_grant(regie=regie, actor=ADMIN, account=MANDATAIRE.account,
                                      role=AssignmentRole.MANDATAIRE, starts_on=OPENED)
        return regie


class PayerFactory(factory.Factory):
    """A family the régie bills (its link code drawn by the service); a new régie unless
    one is given. Other fields (kind, email, external_ref…) as ``payer_create`` takes them."""

    class Meta:
        model = Payer

    regie = factory.SubFactory(RegieFactory)
    name = factory.Sequence(lambda n: f"Famille {FAMILY_NAMES[n % len(FAMILY_NAMES)]}")

    @classmethod
    def _create(cls, model_class, *, regie: Regie, **fields) -> Payer:
        return invoicing.payer_create(regie=regie, actor=ADMIN, **fields)


class InvoiceFactory(factory.Factory):
    """An invoice issued on 1 October 2026, due on the 31st, one line per amount (quantity
    1), numbered by the service unless ``number`` is given; its régie and payer made when
    not given (the payer in the invoice's régie)."""

    class Meta:
        model = Invoice

    regie = factory.SubFactory(RegieFactory)
    payer = factory.SubFactory(PayerFactory, regie=factory.SelfAttribute("..regie"))
    amounts = ("45.00",)
    number = ""
    issued_on = datetime.date(2026, 10, 1)
    due_on = datetime.date(2026, 10, 31)

    @classmethod
    def _create(cls, model_class, *, regie: Regie, payer: Payer, amounts, **fields) -> Invoice:
        lines = [invoicing.line_draft(label=f"Repas {i + 1}", unit_price=a)
                 for i, a in enumerate(amounts)]
        return invoicing.invoice_issue(regie=regie, actor=ADMIN, payer=payer, lines=lines,
                                       **fields)


# --- The short names most tests use ---------------------------------------------------------

def make_regie(number="R-001", name="Cantine et périscolaire", *, staff=True,
               **founding_act) -> Regie:
    """A régie opened in 2020 with its titulaire; with ``staff`` also a suppléant and a
    mandataire."""
    return RegieFactory(number=number, name=name, staff=staff, **founding_act)


def make_payer(regie, name="Famille Martin", **fields):
    return PayerFactory(regie=regie, name=name, **fields)


def make_invoice(regie, payer, *amounts: str, number: str = "", due_on=None):
    """An invoice with one line per amount (quantity 1)."""
    return InvoiceFactory(regie=regie, payer=payer, amounts=amounts or ("45.00",),
                          number=number, due_on=due_on or datetime.date(2026, 10, 31))


def money(value: str) -> Decimal:
    return Decimal(value)


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
