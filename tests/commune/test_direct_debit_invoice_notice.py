"""The invoice's document carries the pre-notification of its debit (a family without an
e-mail address reads it there): the date, the account by its last four characters, the
mandate and the creditor; nothing when no mandate will debit the invoice."""

from __future__ import annotations

import datetime
import re

from django.conf import settings
from django.utils import timezone

from opsn.direct_debit.notices import bank_day
from opsn.direct_debit.services import collect, creditor_set, mandate_record
from opsn.regies.invoice_documents import invoice_pdf
from tests.commune.test_direct_debit_booking import CA_BIC, CA_IBAN, DFT_IBAN, ICS, MODES
from tests.helpers.communes import in_schema
from tests.helpers.documents import pdf_text
from tests.helpers.regies import ADMIN, TITULAIRE, make_invoice, make_payer, make_regie


def text(invoice) -> str:
    return re.sub(r"\s+", " ", pdf_text(invoice_pdf(invoice)))


def test_the_invoice_announces_its_debit_to_a_family_without_email(venissieux):
    today = timezone.localdate()
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=MODES)
        creditor_set(regie=regie, ics=ICS, iban=DFT_IBAN, bic="BDFEFRPP", name="Cantine",
                     actor=ADMIN)
        martin = make_payer(regie, "Famille Martin")  # no e-mail address
        durand = make_payer(regie, "Famille Durand")  # no mandate
        mandate = mandate_record(payer=martin, debtor_name="Famille Martin", iban=CA_IBAN,
                                 bic=CA_BIC, signed_on=datetime.date(2026, 9, 1),
                                 actor=ADMIN, today=datetime.date(2026, 9, 1))
        invoice = make_invoice(regie, martin, "45.10", number="FAC-1",
                               due_on=today + datetime.timedelta(days=40))
        other = make_invoice(regie, durand, "12.00", number="FAC-2",
                             due_on=today + datetime.timedelta(days=40))

        day = bank_day(invoice.due_on)
        words = text(invoice)
        assert (f"Cette facture sera prélevée à partir du {day:%d/%m/%Y} sur le compte "
                f"…{CA_IBAN[-4:]}, mandat {mandate.rum}, créancier {ICS}") in words
        assert CA_IBAN not in words.replace(" ", "")
        assert "demandez-lui le mandat" not in words
        plain = text(other)
        assert "sera prélevée" not in plain and "demandez-lui le mandat" in plain

        # In a collection handed to the bank: its date, exactly.
        collected_on = bank_day(invoice.due_on + datetime.timedelta(days=2))
        collect(regie=regie, collection_date=collected_on, actor=TITULAIRE)
        assert (f"Cette facture sera prélevée le {collected_on:%d/%m/%Y} sur le compte "
                f"…{CA_IBAN[-4:]}") in text(invoice)


def test_an_invoice_due_soon_is_announced_no_sooner_than_the_notice_period(venissieux):
    today = timezone.localdate()
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=MODES)
        creditor_set(regie=regie, ics=ICS, iban=DFT_IBAN, bic="BDFEFRPP", name="Cantine",
                     actor=ADMIN)
        payer = make_payer(regie)
        mandate_record(payer=payer, debtor_name="Famille Martin", iban=CA_IBAN, bic=CA_BIC,
                       signed_on=datetime.date(2026, 9, 1), actor=ADMIN,
                       today=datetime.date(2026, 9, 1))
        invoice = make_invoice(regie, payer, "20.00", due_on=today)
        day = bank_day(today + datetime.timedelta(
            days=settings.OPSN_SEPA_PRENOTIFICATION_DAYS))
        assert f"sera prélevée à partir du {day:%d/%m/%Y}" in text(invoice)
