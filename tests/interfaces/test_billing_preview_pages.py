"""The billing preview before issuing: totals per application and per commune first,
module names (never codes), charts, the detail searchable and paginated, CSV and ODS."""

import datetime
import io
import zipfile
from html import unescape

import pytest

from opsn.billing import services, views
from opsn.communes.models import CommuneModule
from tests.helpers.identity import sign_in_webtest

CONSOLE = {"HTTP_HOST": "console.localhost"}


@pytest.fixture
def year_2024(db, venissieux, vaulx, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    CommuneModule.objects.update(starts_on=datetime.date(2024, 1, 1))
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="1000")
    services.rule_set(module="open-data", year=2024, kind="free")
    services.discount_set(commune=vaulx, year=2024, percent="50", reason="Première année")


@pytest.fixture
def browser(django_app, operator):
    return sign_in_webtest(django_app, "console.localhost", operator.username)


def test_totals_first_then_charts_then_the_searchable_detail(year_2024, browser):
    page = browser.get("/facturation/2024/", extra_environ=CONSOLE)
    text = unescape(page.text)
    assert "2 communes" in text and "1\u202f500,00 €" in text
    totals = page.html.find("table")  # the first table: per application
    assert "Totaux par application" in totals.text
    cells = [[td.text for td in tr.find_all("td")] for tr in totals.find("tbody").find_all("tr")]
    assert ["Régies", "2", "1\u202f500,00 €"] in cells
    assert "regies" not in " ".join(c[0] for c in cells)  # names, not codes
    charts = page.html.find_all("svg", attrs={"role": "img"})
    assert len(charts) == 2
    assert "Contributions 2024 par application" in charts[0].find("title").text
    # the charts come before the issue button, the detail after it
    assert text.index("<svg") < text.index("Émettre les titres 2024") < text.index(
        "Détail par commune")
    assert "Régies : " in text  # the detail names the application too

    form = next(f for f in page.forms.values() if "q" in f.fields)
    form["q"] = "vaulx"
    found = form.submit(extra_environ=CONSOLE)
    assert "1 commune pour « vaulx »" in unescape(found.text)
    rows = found.html.find_all("table")[-1].find("tbody").find_all("tr")
    assert len(rows) == 1 and "Vaulx-en-Velin (69256)" in rows[0].text

    by_application = browser.get("/facturation/2024/?q=donn", extra_environ=CONSOLE)
    rows = by_application.html.find_all("table")[-1].find("tbody").find_all("tr")
    assert len(rows) == 2 and all("Régies" not in r.text for r in rows)

    nothing = browser.get("/facturation/2024/?q=zz" + "x" * 500, extra_environ=CONSOLE)
    assert "Aucune commune ne correspond" in unescape(nothing.text)
    nul = browser.get("/facturation/2024/?q=%00", extra_environ=CONSOLE, status=400)
    assert "caractère nul" in unescape(nul.text)


def test_the_detail_is_paginated(year_2024, browser, monkeypatch):
    monkeypatch.setattr(views, "PREVIEW_PAGE", 1)
    page = browser.get("/facturation/2024/", extra_environ=CONSOLE)
    assert "Page 1 sur 2" in page.text
    second = page.click(description="Suivante", extra_environ=CONSOLE)
    assert "Page 2 sur 2" in second.text
    assert "Vénissieux (69259)" in second.text


def test_csv_and_ods_downloads(year_2024, browser):
    page = browser.get("/facturation/2024/", extra_environ=CONSOLE)
    csv = page.click(href=r"2024\.csv", extra_environ=CONSOLE)
    assert "contributions-2024.csv" in csv.headers["Content-Disposition"]
    assert "69256;Vaulx-en-Velin;regies" in csv.text
    ods = page.click(href=r"2024\.ods", extra_environ=CONSOLE)
    assert ods.content_type == "application/vnd.oasis.opendocument.spreadsheet"
    assert "contributions-2024.ods" in ods.headers["Content-Disposition"]
    content = zipfile.ZipFile(io.BytesIO(ods.body)).read("content.xml").decode()
    for sheet in ("Par application", "Par commune", "Détail"):
        assert f'table:name="{sheet}"' in content
    assert 'office:value-type="float" office:value="1500' in content  # a number cell
    assert "Régies" in content and "Première année" not in content


def test_a_year_without_rules_says_so(db, browser):
    response = browser.get("/facturation/2031/", extra_environ=CONSOLE, status=400)
    assert "Aucune règle de tarification pour 2031" in unescape(response.text)
    assert "/facturation/2031/regles/" in response.text
    assert browser.get("/facturation/2031.ods", extra_environ=CONSOLE, status=400)
