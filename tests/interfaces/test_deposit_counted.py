"""The deposit says what was counted (issue 14): the slip (PDF/UA and CSV) and the deposits
page show, per mode, the journal's amount, the amount counted at the daily closings the
deposit carries, and the difference — déficit or excédent de caisse — with the reason
given at closing; a deposit that spans several closings adds them day after day; a
deposit that no closing preceded says its amounts were not counted.

What a finance officer checks: a day of 177,95 € in the journal, 170,00 € counted with a
reason, deposited the next morning → the slip and its CSV say 177,95 / 170,00 / déficit
7,95 € and the reason, and certify 170,00 €."""

from __future__ import annotations

import datetime
import io
import re
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright
from pypdf import PdfReader

from opsn.agents.models import AgentRole, Role
from opsn.communes.models import Commune
from opsn.regies.counted import deposit_count, deposit_counts, difference_text, pending_count
from opsn.regies.documents import deposit_slip_pdf
from opsn.regies.exports import deposit_counted_csv
from opsn.regies.services import cashdesk
from opsn.regies.services.payments import payment_record, payment_reverse
from tests.helpers.browser import CHROMIUM, launch, serious_violations
from tests.helpers.communes import VENISSIEUX, host_of, in_schema
from tests.helpers.identity import PASSWORD, grant, make_account, sign_in_webtest, totp_of
from tests.helpers.regies import MANDATAIRE, TITULAIRE, make_payer, make_regie, wipe_regies

BASE = "/espace/regies"
HEADER = "\ufeffrubrique;journee;mode;ecritures;journal;compte;ecart;sens;verse;motif\r\n"


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(2026, month, day, hour, minute))


def as_of(moment: datetime.datetime):
    """Everything the services do, as if at ``moment`` (Paris time)."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


def pdf_text(data: bytes) -> str:
    """The PDF's text on one line (a cell's text may wrap), spaces as a reader sees them."""
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\u00a0", " "))


def is_pdf_ua(data: bytes) -> bool:
    """Tagged, with its structure tree, and declared PDF/UA-1 in its XMP metadata."""
    root = PdfReader(io.BytesIO(data)).trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data()
    return (bool(root["/MarkInfo"]["/Marked"]) and "/StructTreeRoot" in root
            and b"pdfuaid:part" in xmp and root["/Lang"] == "fr")


def a_short_day(regie):
    """05/11/2026: 177,95 € of cash (two payments) and a 45 € cheque; at closing the
    drawer holds 170,00 € of cash, and the cheque."""
    martin, petit = make_payer(regie, "Famille Martin"), make_payer(regie, "Famille Petit")
    with as_of(at(5, 9)):
        payment_record(regie=regie, actor=MANDATAIRE, amount="100", mode="cash", payer=martin)
        payment_record(regie=regie, actor=MANDATAIRE, amount="77.95", mode="cash", payer=petit)
        payment_record(regie=regie, actor=TITULAIRE, amount="45", mode="cheque", payer=martin,
                       details={"cheque_number": "8812", "bank": "Crédit Agricole"})
    with as_of(at(5, 18)):
        cashdesk.day_close(regie=regie, actor=TITULAIRE,
                           counted={"cash": "170,00", "cheque": "45"},
                           reasons={"cash": "erreur de rendu de monnaie"})


# --- The slip -------------------------------------------------------------------------------

def test_a_deficit_the_slip_says_journal_counted_and_deficit_with_the_reason(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        a_short_day(regie)
        with as_of(at(6, 9)):
            deposit = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        data = deposit_slip_pdf(deposit)
        csv = deposit_counted_csv(deposit)
    assert deposit.total == Decimal("222.95")  # the journal: the books are not rewritten
    assert is_pdf_ua(data)
    text = pdf_text(data)
    # per mode: entries, journal, counted, difference, paid in, reason
    assert ("Espèces 2 177,95 € 170,00 € déficit 7,95 € 170,00 € "
            "05/11/2026 : erreur de rendu de monnaie") in text
    assert "Chèque 1 45,00 € 45,00 € 0,00 € 45,00 €" in text  # no difference: zero
    assert "Total 3 222,95 € 215,00 € déficit 7,95 € 215,00 €" in text
    assert "Total du journal : 222,95 €" in text
    assert "Écart de caisse : déficit 7,95 €" in text
    # the slip certifies what was counted, not the journal
    assert "Total versé : 215,00 €" in text and "Total versé : 222,95 €" not in text
    assert "deux cent quinze euros." in text
    assert "Montants comptés aux arrêtés de caisse faits avant ce versement" in text
    # the closing it carries, line by line
    assert "Arrêté de caisse du 05/11/2026, fait le 05/11/2026 à 18:00 par Marie Lefèvre" in text
    assert "Espèces 177,95 € 170,00 € déficit 7,95 € erreur de rendu de monnaie" in text
    assert "Chèque 45,00 € 45,00 € 0,00 €" in text
    assert csv == (
        HEADER
        + "mode;;espèces;2;177,95;170,00;-7,95;déficit;170,00;"
          "05/11/2026 : erreur de rendu de monnaie\r\n"
        + "mode;;chèque;1;45,00;45,00;0,00;;45,00;\r\n"
        + "total;;;3;222,95;215,00;-7,95;déficit;215,00;\r\n"
        + "arrete;05/11/2026;espèces;2;177,95;170,00;-7,95;déficit;;"
          "erreur de rendu de monnaie\r\n"
        + "arrete;05/11/2026;chèque;1;45,00;45,00;0,00;;;\r\n")


def test_an_excess_the_same_and_the_reason_stays_text_in_a_spreadsheet(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        with as_of(at(5, 9)):
            payment_record(regie=regie, actor=MANDATAIRE, amount="50", mode="cash", payer=payer)
            payment_record(regie=regie, actor=TITULAIRE, amount="30", mode="card", payer=payer,
                           details={"terminal_ref": "T-77"})
        with as_of(at(5, 18)):
            cashdesk.day_close(regie=regie, actor=TITULAIRE,
                               counted={"cash": "52.05", "card": "30"},
                               reasons={"cash": "+2,05 € trouvés sous le tiroir"})
        with as_of(at(6, 9)):
            deposit = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        text = pdf_text(deposit_slip_pdf(deposit))
        csv = deposit_counted_csv(deposit)
    assert ("Espèces 1 50,00 € 52,05 € excédent 2,05 € 52,05 € "
            "05/11/2026 : +2,05 € trouvés sous le tiroir") in text
    assert "Carte bancaire (TPE) 1 30,00 € 30,00 € 0,00 € 30,00 €" in text
    assert "Écart de caisse : excédent 2,05 €" in text and "Total versé : 82,05 €" in text
    assert "quatre-vingt-deux euros et cinq centimes" in text
    assert csv == (
        HEADER
        + "mode;;espèces;1;50,00;52,05;2,05;excédent;52,05;"
          "05/11/2026 : +2,05 € trouvés sous le tiroir\r\n"
        + "mode;;carte bancaire (TPE);1;30,00;30,00;0,00;;30,00;\r\n"
        + "total;;;2;80,00;82,05;2,05;excédent;82,05;\r\n"
        + "arrete;05/11/2026;espèces;1;50,00;52,05;2,05;excédent;;"
          "'+2,05 € trouvés sous le tiroir\r\n"
        + "arrete;05/11/2026;carte bancaire (TPE);1;30,00;30,00;0,00;;;\r\n")


def test_no_closing_before_the_deposit_the_slip_says_not_counted(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        with as_of(at(5, 9)):
            payment_record(regie=regie, actor=MANDATAIRE, amount="12.50", mode="cash",
                           payer=payer)
            wrong = payment_record(regie=regie, actor=MANDATAIRE, amount="7.50", mode="cash",
                                   payer=payer)
            payment_reverse(entry=wrong, actor=MANDATAIRE, reason="double saisie")
            payment_record(regie=regie, actor=TITULAIRE, amount="45", mode="cheque",
                           payer=payer, details={"cheque_number": "1", "bank": "La Poste"})
        with as_of(at(5, 12)):
            first = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        text = pdf_text(deposit_slip_pdf(first))
        csv = deposit_counted_csv(first)
        with as_of(at(6, 9)):  # still no closing
            payment_record(regie=regie, actor=MANDATAIRE, amount="3", mode="cash", payer=payer)
            second = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        second_text = pdf_text(deposit_slip_pdf(second))
    assert ("Aucun arrêté de caisse n'a précédé ce versement : les montants n'ont pas été "
            "comptés ; ils sont versés au montant du journal.") in text
    assert "Espèces 3 12,50 € non compté — 12,50 €" in text
    assert "Chèque 1 45,00 € non compté — 45,00 €" in text
    assert "Total 4 57,50 € non compté 0,00 € 57,50 €" in text
    assert "Total versé : 57,50 €" in text and "Écart de caisse" not in text
    assert "Arrêtés de caisse repris" not in text
    assert (f"Aucun arrêté de caisse depuis le versement n° {first.slip} : les montants n'ont "
            "pas été comptés") in second_text
    assert csv == (
        HEADER
        + "mode;;espèces;3;12,50;;;non compté;12,50;\r\n"
        + "mode;;chèque;1;45,00;;;non compté;45,00;\r\n"
        + "total;;;4;57,50;;0,00;non compté;57,50;\r\n")


def test_the_closing_after_a_deposit_goes_on_the_next_slip(venissieux):
    """Deposited at noon, the day closed at six with a difference: the difference was not
    known at noon; the next slip carries it. The first slip never changes."""
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        with as_of(at(5, 9)):
            payment_record(regie=regie, actor=MANDATAIRE, amount="10", mode="cash", payer=payer)
        with as_of(at(5, 12)):
            first = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        before = deposit_count(first)
        with as_of(at(5, 18)):
            cashdesk.day_close(regie=regie, actor=TITULAIRE, counted={"cash": "8"},
                               reasons={"cash": "billet déchiré refusé"})
        with as_of(at(6, 9)):
            payment_record(regie=regie, actor=MANDATAIRE, amount="5", mode="cash", payer=payer)
            second = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        assert deposit_count(first) == before and not before.closings
        count = deposit_count(second)
        [cash] = count.modes
        assert (cash.journal, cash.counted, cash.difference, cash.reasons) == (
            Decimal("5.00"), Decimal("3.00"), Decimal("-2.00"),
            "05/11/2026 : billet déchiré refusé")
        assert count.previous_slip == first.slip
        assert count.uncounted_days == (datetime.date(2026, 11, 6),)
        text = pdf_text(deposit_slip_pdf(second))
    assert f"Montants comptés aux arrêtés de caisse faits depuis le versement n° {first.slip}" \
        in text
    assert ("Recettes non arrêtées à la date du versement, versées au montant du journal : "
            "journée du 06/11/2026.") in text


def test_a_deposit_over_several_closings_adds_them_day_after_day(venissieux):
    """Closed on the 3rd (1 € short) and the 4th (2 € over); the 5th's morning is
    deposited before it is closed: per mode, the differences add up (+1 €), the days are
    listed one by one, the 5th is said not closed."""
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        with as_of(at(3, 9)):
            payment_record(regie=regie, actor=MANDATAIRE, amount="100", mode="cash",
                           payer=payer)
        with as_of(at(3, 18)):
            cashdesk.day_close(regie=regie, actor=TITULAIRE, counted={"cash": "99"},
                               reasons={"cash": "pièce d'un euro manquante"})
        with as_of(at(4, 9)):
            payment_record(regie=regie, actor=MANDATAIRE, amount="50", mode="cash", payer=payer)
            payment_record(regie=regie, actor=TITULAIRE, amount="20", mode="cheque",
                           payer=payer, details={"cheque_number": "2", "bank": "La Poste"})
        with as_of(at(4, 18)):
            cashdesk.day_close(regie=regie, actor=TITULAIRE,
                               counted={"cash": "52", "cheque": "20"},
                               reasons={"cash": "monnaie non rendue à un usager"})
        with as_of(at(5, 9)):
            payment_record(regie=regie, actor=MANDATAIRE, amount="10", mode="cash", payer=payer)
        with as_of(at(5, 10)):
            deposit = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        count = deposit_count(deposit)
        text = pdf_text(deposit_slip_pdf(deposit))
        csv = deposit_counted_csv(deposit)
    assert [c.day.day for c in count.closings] == [3, 4]
    assert count.uncounted_days == (datetime.date(2026, 11, 5),)
    assert (count.journal, count.counted, count.difference, count.paid) == (
        Decimal("180.00"), Decimal("181.00"), Decimal("1.00"), Decimal("181.00"))
    assert ("Espèces 3 160,00 € 161,00 € excédent 1,00 € 161,00 € "
            "03/11/2026 : pièce d'un euro manquante "
            "04/11/2026 : monnaie non rendue à un usager") in text
    assert "Arrêté de caisse du 03/11/2026" in text and "Arrêté de caisse du 04/11/2026" in text
    assert "Espèces 100,00 € 99,00 € déficit 1,00 € pièce d'un euro manquante" in text
    assert "Espèces 50,00 € 52,00 € excédent 2,00 € monnaie non rendue à un usager" in text
    assert "journée du 05/11/2026" in text and "Total versé : 181,00 €" in text
    assert csv == (
        HEADER
        # two reasons, « ; » between them: the cell is quoted
        + "mode;;espèces;3;160,00;161,00;1,00;excédent;161,00;"
          "\"03/11/2026 : pièce d'un euro manquante ; "
          "04/11/2026 : monnaie non rendue à un usager\"\r\n"
        + "mode;;chèque;1;20,00;20,00;0,00;;20,00;\r\n"
        + "total;;;4;180,00;181,00;1,00;excédent;181,00;\r\n"
        + "arrete;03/11/2026;espèces;1;100,00;99,00;-1,00;déficit;;"
          "pièce d'un euro manquante\r\n"
        + "arrete;04/11/2026;espèces;1;50,00;52,00;2,00;excédent;;"
          "monnaie non rendue à un usager\r\n"
        + "arrete;04/11/2026;chèque;1;20,00;20,00;0,00;;;\r\n")


def test_the_counts_of_many_deposits_take_a_few_queries(venissieux,
                                                        django_assert_max_num_queries):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        deposits = []
        for day in range(2, 12):
            with as_of(at(day, 9)):
                payment_record(regie=regie, actor=MANDATAIRE, amount="10", mode="cash",
                               payer=payer)
            with as_of(at(day, 18)):
                cashdesk.day_close(regie=regie, actor=TITULAIRE, counted={"cash": "9.50"},
                                   reasons={"cash": "erreur"})
            with as_of(at(day, 19)):
                deposits.append(cashdesk.deposit_make(regie=regie, actor=TITULAIRE))
        with django_assert_max_num_queries(6):
            counts = deposit_counts(deposits)
        assert [c.difference for c in counts.values()] == [Decimal("-0.50")] * 10
        assert all(counts[d.pk] == deposit_count(d) for d in deposits)
        assert difference_text(Decimal("-0.50")) == "déficit 0,50 €"


# --- The deposits page ----------------------------------------------------------------------

def text_of(page) -> str:
    return re.sub(r"\s+", " ", page.html.get_text(" ").replace("\u202f", " ")
                  .replace("\xa0", " "))


def titulaire_browser(django_app, commune):
    make_account(TITULAIRE.account)
    with in_schema(commune):
        roles = list(AgentRole.objects.filter(account=TITULAIRE.account)
                     .values_list("role", flat=True))
    grant(commune, TITULAIRE.account, *roles)
    sign_in_webtest(django_app, host_of(commune), TITULAIRE.account)
    django_app.extra_environ = {**django_app.extra_environ, "HTTP_HOST": host_of(commune)}
    return django_app


def test_the_deposits_page_shows_the_same_figures_before_and_after(venissieux, django_app):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        payment_record(regie=regie, actor=MANDATAIRE, amount="100", mode="cash", payer=payer)
        payment_record(regie=regie, actor=MANDATAIRE, amount="77.95", mode="cash", payer=payer)
        payment_record(regie=regie, actor=TITULAIRE, amount="45", mode="cheque", payer=payer,
                       details={"cheque_number": "8812", "bank": "Crédit Agricole"})
    app = titulaire_browser(django_app, venissieux)
    page = app.get(f"{BASE}/R-001/versements/")
    text = text_of(page)
    assert "Espèces 2 177,95 € non compté — 177,95 €" in text
    assert "Aucun arrêté de caisse avant ce versement" in text

    close = app.get(f"{BASE}/R-001/arrete/")
    form = next(f for f in close.forms.values() if f.method.lower() == "post"
                and f.action.endswith("/arrete/"))
    form["counted_cash"] = "170,00"
    form["reason_cash"] = "erreur de rendu de monnaie"
    form["counted_cheque"] = "45"
    form.submit().follow()

    page = app.get(f"{BASE}/R-001/versements/")
    text = text_of(page)
    today = timezone.localdate()
    assert ("Espèces 2 177,95 € 170,00 € déficit 7,95 € 170,00 € "
            f"{today:%d/%m/%Y} : erreur de rendu de monnaie") in text
    assert "Chèque 1 45,00 € 45,00 € 0,00 € 45,00 €" in text
    assert "Total 222,95 € 215,00 € déficit 7,95 € 215,00 €" in text
    assert f"Arrêté de caisse que reprendra le versement : {today:%d/%m/%Y}." in text

    form = next(f for f in page.forms.values() if f.method.lower() == "post"
                and f.action.endswith("/versements/"))
    done = form.submit().follow()
    text = text_of(done)
    slip = f"V{today.year}-0001"
    assert (f"Versement {slip} enregistré : 215,00 € au comptable (journal 222,95 €, "
            "déficit de caisse 7,95 €).") in text
    row = done.html.find("th", string=slip).find_parent("tr")
    cells = [c.get_text(" ", strip=True).replace("\u202f", " ") for c in row.find_all(["th", "td"])]
    assert cells[3].startswith(
        "Espèces (2) : journal 177,95 €, compté 170,00 €, écart déficit 7,95 € — "
        f"{today:%d/%m/%Y} : erreur de rendu de monnaie "
        "Chèque (1) : journal 45,00 €, compté 45,00 €, écart 0,00 €")
    assert cells[4:6] == ["222,95 €", "215,00 € déficit 7,95 €"]
    csv = done.click(href=r"comptage\.csv")
    assert csv.content_type == "text/csv"
    assert f"comptage-R-001-{slip}.csv" in csv.headers["Content-Disposition"]
    assert csv.body.decode("utf-8").startswith(HEADER)
    assert ("mode;;espèces;2;177,95;170,00;-7,95;déficit;170,00;"
            f"{today:%d/%m/%Y} : erreur de rendu de monnaie\r\n") in csv.body.decode("utf-8")
    pdf = done.click(href=r"bordereau\.pdf")
    assert "Total versé : 215,00 €" in pdf_text(pdf.body)


def test_pending_with_a_closing_says_what_the_slip_will_say(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        a_short_day(regie)
        with as_of(at(5, 19)):
            count = pending_count(regie)
    [cash, cheque] = count.modes
    assert (cash.journal, cash.counted, cash.difference_text) == (
        Decimal("177.95"), Decimal("170.00"), "déficit 7,95 €")
    assert (cheque.counted, cheque.difference_text) == (Decimal("45.00"), "0,00 €")
    assert count.paid == Decimal("215.00") and count.uncounted_days == ()


@pytest.mark.parametrize("difference, said", [
    (Decimal("-7.95"), "déficit 7,95 €"), (Decimal("2.05"), "excédent 2,05 €"),
    (Decimal("0.00"), "0,00 €"), (Decimal("-1234.50"), "déficit 1 234,50 €")])
def test_a_difference_is_written_as_a_deficit_or_an_excess(difference, said):
    assert difference_text(difference).replace("\u202f", " ") == said


# --- In Chromium, at a phone's width --------------------------------------------------------



@pytest.fixture
def deposits_data(server):
    """Committed for the server's thread: a deposit with a déficit, and a closed day with an
    excédent waiting to be deposited."""
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(commune):
        regie = make_regie()
        a_short_day(regie)
        with as_of(at(6, 9)):
            cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
            payment_record(regie=regie, actor=MANDATAIRE, amount="20", mode="cash",
                           payer=make_payer(regie, "Famille Nguyễn"))
        with as_of(at(6, 18)):
            cashdesk.day_close(regie=regie, actor=TITULAIRE, counted={"cash": "20.50"},
                               reasons={"cash": "erreur de rendu en faveur de la régie"})
    make_account(TITULAIRE.account)
    grant(commune, TITULAIRE.account, Role.REGISSEUR)
    try:
        yield f"http://{commune.primary_domain}:{server}"
    finally:
        with in_schema(commune):
            wipe_regies()
        get_user_model().objects.filter(email=TITULAIRE.account).delete()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")
def test_the_deposits_page_on_a_phone_in_chromium(deposits_data):
    base = deposits_data
    authenticator = totp_of(TITULAIRE.account)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(locale="fr-FR", viewport={"width": 360, "height": 740},
                                          is_mobile=True, has_touch=True)
            page = context.new_page()
            page.goto(f"{base}/compte/connexion/?next=/espace/regies/R-001/versements/")
            page.get_by_label("Adresse électronique").fill(TITULAIRE.account)
            page.get_by_label("Mot de passe").fill(PASSWORD)
            page.get_by_role("button", name="Se connecter").click()
            page.get_by_label("Code à 6 chiffres").fill(authenticator.now())
            page.get_by_role("button", name="Valider").click()
            expect(page.get_by_role("heading", name="Versements au comptable")).to_be_visible()

            # What awaits deposit: the closing of the 6th found 0,50 € too much.
            pending = page.get_by_role("region", name="À verser, par mode")
            expect(pending).to_contain_text("excédent 0,50 €")
            expect(pending).to_contain_text("06/11/2026 : erreur de rendu en faveur de la régie")
            # The past deposit: the same figures as its slip.
            past = page.get_by_role("region", name="Versements effectués")
            expect(past).to_contain_text("compté 170,00 €, écart déficit 7,95 €")
            # Nothing wider than the phone but the tables, each scrolling in its frame,
            # which the keyboard reaches.
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            pending.focus()
            assert page.evaluate("document.activeElement.getAttribute('role')") == "region"
            assert serious_violations(page) == []

            page.get_by_role("button", name="Verser au comptable").click()
            expect(page.get_by_text("Versement V2026-0002 enregistré : 20,50 € au comptable "
                                    "(journal 20,00 €, excédent de caisse 0,50 €).")
                   ).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            assert serious_violations(page) == []
        finally:
            browser.close()
