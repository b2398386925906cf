"""Demo data for the régies of a commune: a canteen régie as its founding act makes it,
its titulaire and a mandataire, products, families with invoices, the day's first
payments at the counter, and online payment through the local PayFiP test provider.
Idempotent: a commune that has the régie is left alone."""

from __future__ import annotations

import datetime

from django.utils import timezone

from opsn.agents.models import AgentRole, Role
from opsn.communes.models import Commune
from opsn.direct_debit.models import Creditor
from opsn.direct_debit.services import creditor_set
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import inside
from opsn.online_payments.models import Environment, PayfipAccount
from opsn.online_payments.services import payfip_configure
from opsn.regies.models import AssignmentRole, Regie
from opsn.regies.services import founding, invoicing, payments

FAMILIES = [
    ("Famille Martin", "12 rue Paul Bert", "martin.famille@example.fr", "Léa", "3"),
    ("Famille Benali", "4 avenue Jean Jaurès", "benali@example.fr", "Yanis", "2"),
    ("Famille Nguyen", "27 boulevard Ambroise Croizat", "", "Emma", "4"),
    # The demo citizen camille.durand@citoyen.demo links it by e-mail and pays it online.
    ("Famille Durand", "8 place Léon Sublet", "camille.durand@citoyen.demo", "Lucas", "1"),
]


def demo_accounts(commune: Commune) -> dict[str, str]:
    return {"regisseur": f"regisseur@{commune.slug}.demo",
            "mandataire": f"caisse@{commune.slug}.demo"}


def regies_demo(commune: Commune) -> dict[str, str]:
    """Returns the demo accounts of the régie (role → account)."""

    accounts = demo_accounts(commune)
    with inside(commune):
        for role, account in ((Role.REGISSEUR, accounts["regisseur"]),
                              (Role.MANDATAIRE, accounts["mandataire"])):
            AgentRole.objects.get_or_create(account=account, role=role,
                                            defaults={"granted_by": "demo"})
        admin = Actor.system("démo")
        if Regie.objects.filter(number="R-CANT").exists():
            canteen = Regie.objects.get(number="R-CANT")
            if not PayfipAccount.objects.filter(regie=canteen).exists():
                payfip_configure(regie=canteen, actor=admin, numcli="123456",
                                 environment=Environment.TEST)
            if not Creditor.objects.filter(regie=canteen).exists():
                _creditor(canteen, commune, admin)
            return accounts
        today = timezone.localdate()
        opened = datetime.date(today.year - 1, 9, 1)
        regie = founding.regie_create(
            actor=admin, number="R-CANT", name="Cantine et périscolaire",
            founding_act=f"arrêté n° {opened.year}-118 du 3 mai {opened.year}",
            accepted_modes=["cash", "cheque", "card", "transfer", "direct_debit", "online"],
            cash_limit="1500", cash_float="50", deposit_period_days=30,
            accountant=f"Service de gestion comptable de {commune.name}", starts_on=opened)
        founding.assignment_grant(regie=regie, actor=admin, account=accounts["regisseur"],
                                  role=AssignmentRole.TITULAIRE, starts_on=opened)
        founding.assignment_grant(regie=regie, actor=admin, account=accounts["mandataire"],
                                  role=AssignmentRole.MANDATAIRE, starts_on=opened)
        meal = founding.product_save(regie=regie, actor=admin, code="repas",
                                     name="Repas de cantine", unit_price="3.85",
                                     nature="7067", fonction="281")
        care = founding.product_save(regie=regie, actor=admin, code="periscolaire",
                                     name="Accueil périscolaire (heure)", unit_price="1.60",
                                     nature="7067", fonction="288")
        month_start = today.replace(day=1)
        previous = (month_start - datetime.timedelta(days=1)).replace(day=1)
        cashier = Actor(account=accounts["regisseur"], name="Régisseur de démonstration")
        for n, (name, street, email, child, hours) in enumerate(FAMILIES):
            payer = invoicing.payer_create(regie=regie, actor=admin, name=name,
                                           address_line=street, city=commune.name,
                                           email=email, external_ref=f"FAM-{n + 1:04d}")
            invoice = invoicing.invoice_issue(
                regie=regie, actor=admin, payer=payer, issued_on=month_start,
                due_on=month_start + datetime.timedelta(days=30),
                lines=[invoicing.line_draft(product=meal, quantity=str(16 + n),
                                            period_start=previous,
                                            period_end=month_start - datetime.timedelta(1),
                                            beneficiary=child),
                       invoicing.line_draft(product=care, quantity=hours, beneficiary=child)])
            if n == 0:  # one family has paid at the counter already
                payments.payment_record(regie=regie, actor=cashier, amount=invoice.total,
                                        mode="cash", invoices=[invoice])
            if n == 1:  # another by cheque, in part
                payments.payment_record(regie=regie, actor=cashier, amount="20.00",
                                        mode="cheque", invoices=[invoice],
                                        details={"cheque_number": "4521987",
                                                 "bank": "Caisse d'Épargne"})
        # Online payment (PayFiP) in its test environment: the local provider in the demo.
        payfip_configure(regie=regie, actor=admin, numcli="123456",
                         environment=Environment.TEST)
        _creditor(regie, commune, admin)
    return accounts


def _creditor(regie: Regie, commune: Commune, admin: Actor) -> None:
    """SEPA direct debit: an example creditor identifier (its check digits right) and a
    DFT account, so that families may sign a mandate in the demo."""
    creditor_set(regie=regie, ics="FR72ZZZ123456", iban="FR7610071690000001000090806",
                 bic="TRPUFRP1", name=f"{commune.name} – cantine"[:70], actor=admin)
