"""A deposit's titre de régularisation: what the régie paid in, broken down by M57
imputation — invoice payments as the lines they pay (in their order), counter sales as
their product, the payer's credit « non affecté » — adding up to the deposit's total; on
the deposit's page, in its CSV and in its PDF."""

import csv
import datetime
import io
from decimal import Decimal

from opsn.finance.regularisation import deposit_regularisation
from opsn.regies.documents import deposit_slip_pdf
from opsn.regies.exports import deposit_regularisation_csv
from opsn.regies.services import cashdesk, founding
from opsn.regies.services.payments import payment_record
from tests.commune.test_finance_handover import issue
from tests.helpers.communes import in_schema
from tests.helpers.regies import (
    ADMIN,
    TITULAIRE,
    make_agents,
    make_budget,
    make_payer,
    make_regie,
)
from tests.interfaces.test_regie_pages import client_of


def _deposit_with_every_kind_of_payment():
    regie = make_regie()
    make_budget()
    founding.regie_imputation_set(regie=regie, actor=ADMIN, nature="7067", fonction="281")
    meal = founding.product_save(regie=regie, actor=ADMIN, code="repas", name="Repas",
                                 unit_price="4.10")
    club = founding.product_save(regie=regie, actor=ADMIN, code="club", name="Club",
                                 unit_price="12.00", nature="7067", fonction="213")
    ticket = founding.product_save(regie=regie, actor=ADMIN, code="expo", name="Exposition",
                                   unit_price="5.00", nature="7062", fonction="311")
    martin = make_payer(regie, "Famille Martin")
    a = issue(regie, martin, (meal, "10"), (club, "1"), number="F-1",
              due_on=datetime.date(2026, 10, 31))  # 41.00 then 12.00
    b = issue(regie, martin, (meal, "5"), number="F-2", due_on=datetime.date(2026, 10, 31))
    payment_record(regie=regie, actor=TITULAIRE, amount="20.00", mode="cash", payer=martin,
                   invoices=[a])  # 20.00 of the meals
    payment_record(regie=regie, actor=TITULAIRE, amount="30.00", mode="cheque", payer=martin,
                   invoices=[a], details={"cheque_number": "1234567", "bank": "La Banque"})
    payment_record(regie=regie, actor=TITULAIRE, amount="15.00", mode="cash",
                   payer_name="Visiteur", sales=[(ticket, 3)])
    payment_record(regie=regie, actor=TITULAIRE, amount="60.00", mode="cash", payer=martin,
                   invoices=[b])  # 20.50, and 39.50 of credit
    return regie, cashdesk.deposit_make(regie=regie, actor=TITULAIRE)


def test_a_deposit_is_broken_down_by_imputation_and_adds_up_to_its_total(venissieux):
    with in_schema(venissieux):
        _, deposit = _deposit_with_every_kind_of_payment()
        regularisation = deposit_regularisation(deposit)
        got = [(x.nature, x.fonction, x.amount) for x in regularisation.lines]
        assert got == [("7062", "311", Decimal("15.00")),
                       ("7067", "213", Decimal("9.00")),  # 30.00 - the 21.00 meals left
                       ("7067", "281", Decimal("61.50")),  # 20.00 + 21.00 + 20.50
                       ("", "", Decimal("39.50"))]
        assert regularisation.total == deposit.total == Decimal("125.00")
        assert regularisation.unimputed == Decimal("39.50")
        assert regularisation.lines[0].nature_label.startswith("Redevances et droits des "
                                                               "services à caractère culturel")
        rows = list(csv.reader(io.StringIO(deposit_regularisation_csv(deposit).lstrip("\ufeff")),
                               delimiter=";"))
        assert rows[0] == ["versement", "nature", "libelle_nature", "fonction",
                           "libelle_fonction", "montant"]
        assert [r[1] for r in rows[1:]] == ["7062", "7067", "7067", "non affecté", "total"]
        assert rows[-1][-1] == "125,00"
        assert sum(Decimal(r[-1].replace(",", ".")) for r in rows[1:-1]) == Decimal("125.00")
        assert deposit_slip_pdf(deposit).startswith(b"%PDF")


def test_the_deposit_page_shows_its_regularisation(venissieux):
    with in_schema(venissieux):
        make_agents()
        regie, deposit = _deposit_with_every_kind_of_payment()
    client = client_of(venissieux, TITULAIRE.account)
    url = f"/espace/regies/{regie.number}/versements/{deposit.slip}/"
    page = client.get(url)
    assert page.status_code == 200
    text = " ".join(page.content.decode().split()).replace("\u202f", " ").replace("\xa0", " ")
    assert "Titre de régularisation" in text and "7062 Redevances et droits" in text
    assert "61,50 €" in text and "125,00 €" in text and "Non affecté" in text
    csv_page = client.get(url + "regularisation.csv")
    assert csv_page.status_code == 200 and "7067;" in csv_page.content.decode()
    assert client.get(f"/espace/regies/{regie.number}/versements/V1999-9/").status_code == 404
