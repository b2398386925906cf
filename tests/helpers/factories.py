"""Factories (factory_boy) for the régies' rows: a régie, a payer, an invoice, with French
defaults, numbers and names that differ from one row to the next, and the régie or payer
a row needs made for it when the test does not give one (``InvoiceFactory()`` makes the
three). Call them inside ``in_schema(commune)``; they only create.

Each row is made as the product makes it, through its service (``founding.regie_create``,
``invoicing.payer_create``, ``invoicing.invoice_issue``, by way of ``make_regie``,
``make_payer``, ``make_invoice`` in regies.py), never with the ORM: the audit events, the
numbers and the database's triggers are those of real use. Hence ``factory.Factory`` with
a ``_create`` of its own rather than ``DjangoModelFactory``, which would also write with
``objects.using("default")`` where a commune's rows belong to the commune's database.

The registry has no factories: a commune comes from onboarding (``commune_onboard``),
whose work is what the registry's tests check.
"""

from __future__ import annotations

import datetime

import factory

from opsn.regies.models import Invoice, Payer, Regie
from tests.helpers.regies import OPENED, make_invoice, make_payer, make_regie

FAMILY_NAMES = ["Martin", "Bernard", "Dubois", "Diallo", "Nguyen", "Moreau", "Laurent",
                "Benali", "Girard", "Fontaine", "Lefèvre", "Da Silva", "Roux", "Haddad"]
REGIE_NAMES = ["Cantine et périscolaire", "Piscine municipale", "Médiathèque",
               "Conservatoire de musique", "Droits de place", "Centre de loisirs"]


class RegieFactory(factory.Factory):
    """A régie as its founding act makes it, opened in 2020, the commune's agents named, its
    titulaire appointed; with ``staff`` (the default) also a suppléant and a mandataire.
    Any other field of the founding act as ``regie_create`` takes it."""

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
    def _create(cls, model_class, **founding_act) -> Regie:
        return make_regie(**founding_act)


class PayerFactory(factory.Factory):
    """A family the régie bills (its link code drawn by the service), in a new régie unless
    one is given. Other fields (kind, email, external_ref…) as ``payer_create`` takes them."""

    class Meta:
        model = Payer

    regie = factory.SubFactory(RegieFactory)
    name = factory.Sequence(lambda n: f"Famille {FAMILY_NAMES[n % len(FAMILY_NAMES)]}")

    @classmethod
    def _create(cls, model_class, *, regie: Regie, **fields) -> Payer:
        return make_payer(regie, **fields)


class InvoiceFactory(factory.Factory):
    """An invoice issued on 1 October 2026, one line per amount (quantity 1), numbered by
    the service unless ``number`` is given; its régie and payer made when not given (the
    payer in the invoice's régie)."""

    class Meta:
        model = Invoice

    regie = factory.SubFactory(RegieFactory)
    payer = factory.SubFactory(PayerFactory, regie=factory.SelfAttribute("..regie"))
    amounts = ("45.00",)
    number = ""
    due_on = datetime.date(2026, 10, 31)

    @classmethod
    def _create(cls, model_class, *, regie: Regie, payer: Payer, amounts, **fields) -> Invoice:
        return make_invoice(regie, payer, *amounts, **fields)
