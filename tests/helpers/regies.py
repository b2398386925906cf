"""Building blocks for the régies tests: a régie as a founding act makes it, its
titulaire appointed, payers and invoices (their factories: factories.py). Call them inside
``in_schema(commune)``. And the clean-up after a ``committed`` régies test."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import connection

from opsn.agents.models import AgentRole, Role
from opsn.finance.services import budget_save
from opsn.kernel.actors import Actor
from opsn.regies.models import AssignmentRole, Regie
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


def make_regie(number="R-001", name="Cantine et périscolaire", *, staff=True,
               **founding_act) -> Regie:
    """A régie opened in 2020 with its titulaire; with ``staff`` also a suppléant and a
    mandataire."""
    make_agents()
    act = {"accepted_modes": ["cash", "cheque", "card", "transfer", "other"],
           "cash_limit": "2000", "cash_float": "50", "accountant": "SGC de Vénissieux",
           "starts_on": OPENED}
    act.update(founding_act)
    regie = founding.regie_create(actor=ADMIN, number=number, name=name, **act)
    founding.assignment_grant(regie=regie, actor=ADMIN, account=TITULAIRE.account,
                              role=AssignmentRole.TITULAIRE, starts_on=OPENED)
    if staff:
        founding.assignment_grant(regie=regie, actor=ADMIN, account=SUPPLEANT.account,
                                  role=AssignmentRole.SUPPLEANT, starts_on=OPENED)
        founding.assignment_grant(regie=regie, actor=ADMIN, account=MANDATAIRE.account,
                                  role=AssignmentRole.MANDATAIRE, starts_on=OPENED)
    return regie


def make_payer(regie, name="Famille Martin", **fields):
    return invoicing.payer_create(regie=regie, actor=ADMIN, name=name, **fields)


def make_invoice(regie, payer, *amounts: str, number: str = "", due_on=None):
    """An invoice with one line per amount (quantity 1)."""
    lines = [invoicing.line_draft(label=f"Repas {i + 1}", unit_price=a)
             for i, a in enumerate(amounts or ("45.00",))]
    return invoicing.invoice_issue(regie=regie, actor=ADMIN, payer=payer, lines=lines,
                                   number=number, issued_on=datetime.date(2026, 10, 1),
                                   due_on=due_on or datetime.date(2026, 10, 31))


def money(value: str) -> Decimal:
    return Decimal(value)


def wipe_regies() -> None:
    """After a ``committed`` régies test, inside the commune's schema: remove what it
    wrote. The database refuses to delete history, so the guards are lifted for this test
    data only."""
    tables = ["direct_debit_debitreturn", "direct_debit_returnfile",
              "direct_debit_prenotifiedinvoice", "direct_debit_prenotification",
              "direct_debit_confirmation", "direct_debit_collectionline",
              "direct_debit_collection", "direct_debit_mandatesignature",
              "direct_debit_mandate", "direct_debit_creditor",
              "online_payments_onlinepayment", "online_payments_payfipaccount",
              "online_payments_referenceattempt",
              "audit_auditevent", "finance_invoicereminder", "finance_reminderletterbatch",
              "finance_invoicecontest", "finance_reminderschedule",
              "regies_invoicemailing", "regies_documentbatch",
              "finance_releasedtitre", "finance_pesack",
              "finance_handedoverinvoice", "finance_unpaidhandover",
              "regies_importedpayment", "regies_allocation",
              "regies_depositline", "regies_deposit", "regies_closingline",
              "regies_dailyclosing", "regies_ledgerentry", "regies_receiptcounter",
              "regies_holding", "regies_invoiceline", "regies_invoice", "regies_importbatch",
              "regies_payer", "regies_product", "regies_handover", "regies_standin",
              "regies_regiemerge", "regies_assignment", "regies_regie", "finance_budget",
              "agents_agentrole"]
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no user triggers
        try:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


PRINCIPAL_SIRET = "21690259300005"  # the town hall of Vénissieux (Sirene)


def make_budget(**fields):
    """The commune's principal budget as its public accountant knows it."""
    values = {"kind": "principal", "name": "Ville de Vénissieux – budget principal",
              "siret": PRINCIPAL_SIRET, "collectivity_code": "047", "budget_code": "00",
              "post_code": "069027", "post_name": "SGC de Vénissieux",
              "sender_code": "VENISSIEUX", "sender_address": "5 avenue Marcel Houël"}
    values.update(fields)
    return budget_save(actor=ADMIN, **values)
