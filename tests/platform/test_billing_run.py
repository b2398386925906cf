"""The yearly computation: the Lavérune example, on the 31 communes of the Métropole
onboarded once for the module (every rule kind, modifiers, bad input: test_billing_rules.py)."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from opsn.billing import services
from opsn.billing.computation import compute_year
from opsn.communes import services as communes
from tests.helpers.billing import subscribe_from
from tests.helpers.communes import once_for_the_module

MONTPELLIER_METROPOLE = "243400017"
LAVERUNE = "34134"


def onboard_metropole() -> list[str]:
    _, codes = communes.epci_members(MONTPELLIER_METROPOLE)
    communes.batch_run(communes.batch_create(label="3M", insee_codes=codes, modules=[
        "e-administration", "services-en-ligne", "marches-publics", "open-data"]))
    subscribe_from(2022, codes)
    return codes


@pytest.fixture(scope="module")
def onboarded_metropole(django_db_setup, django_db_blocker):
    yield from once_for_the_module(django_db_blocker, onboard_metropole)


@pytest.fixture
def metropole(onboarded_metropole, db):
    """The 31 communes of Montpellier Méditerranée Métropole, subscribed since 2022."""
    return onboarded_metropole


TOTALE_COSTS = ("21000", "14497", "11313")
MUNICIPALE_COSTS = ("21099", "14566", "11367")


def laverune_rules(population_kind="totale", costs=TOTALE_COSTS):
    # The convention (seeds/004) gives Lavérune's amounts, not the yearly costs Pappli. These
    # costs, with INSEE's population 2022 of the 31 communes (epci.json of the shipped
    # release) and the Métropole paying half, give exactly the published amounts: see
    # docs/billing.md.
    for module, cost in zip(("e-administration", "services-en-ligne", "marches-publics"),
                            costs, strict=True):
        services.rule_set(module=module, year=2022, kind="per_inhabitant", annual_cost=cost,
                          operator_share_fraction="0.5", population_kind=population_kind,
                          population_year=2022)
    services.rule_set(module="open-data", year=2022, kind="free")


def lines_of(preview, code):
    return {line.module: line for line in preview.lines if line.insee_code == code}


@pytest.mark.parametrize("population_kind, costs, population", [
    ("totale", TOTALE_COSTS, 3_355), ("municipale", MUNICIPALE_COSTS, 3_298)])
def test_laverune_pays_what_the_convention_says(metropole, population_kind, costs, population):
    laverune_rules(population_kind, costs)
    preview = compute_year(2022)
    laverune = lines_of(preview, LAVERUNE)
    assert {m: line.amount for m, line in laverune.items()} == {
        "e-administration": Decimal("67.34"),
        "services-en-ligne": Decimal("46.49"),
        "marches-publics": Decimal("36.28"),
        "open-data": Decimal("0.00"),
    }
    assert sum(line.amount for line in laverune.values()) == Decimal("150.11")
    assert laverune["e-administration"].population == population
    assert laverune["e-administration"].population_label == f"population {population_kind} 2022"


def test_the_shares_of_each_application_add_up_to_the_amount_shared(metropole):
    laverune_rules()
    preview = compute_year(2022)
    assert lines_of(preview, LAVERUNE)["e-administration"].explanation == (
        "3\u202f355 / 523\u202f109 hab. × (21\u202f000,00 € − 10\u202f500,00 €) = 67.3426 € → "
        "67,34 € (plus forts restes)")
    by_module = preview.by_module()
    assert by_module == {"e-administration": 1_050_000, "services-en-ligne": 724_850,
                         "marches-publics": 565_650, "open-data": 0}


def test_the_operator_share_can_be_an_amount(metropole):
    services.rule_set(module="e-administration", year=2022, kind="per_inhabitant",
                      annual_cost="21000", operator_share_amount="10500",
                      population_kind="totale", population_year=2022)
    assert lines_of(compute_year(2022), LAVERUNE)["e-administration"].amount == Decimal("67.34")


def test_the_command_line_preview_and_its_csv(metropole, tmp_path, capsys):
    laverune_rules()
    call_command("billing_preview", "2022", "--commune", LAVERUNE)
    out = capsys.readouterr().out
    assert "e-administration" in out and "10\u202f500,00 €" in out
    assert "67,34 €" in out
    target = tmp_path / "2022.csv"
    call_command("billing_preview", "2022", "--csv", str(target))
    rows = target.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("annee;code_insee;commune;application")
    assert len(rows) == 1 + 31 * 4
    assert any(r.startswith(f"2022;{LAVERUNE};Lavérune;e-administration") and ";67,34;" in r
               for r in rows)

    with pytest.raises(CommandError, match="Aucune règle") as failed:
        call_command("billing_preview", "1999")
    assert failed.value.returncode == 2


def test_the_console_shows_the_preview_and_its_csv(metropole, console):
    laverune_rules()
    page = console.get("/facturation/").content.decode()
    assert "e-administration" in page.lower() or "E-administration" in page
    page = console.get("/facturation/2022/?q=lavérune").content.decode()
    assert "Contributions 2022 (aperçu)" in page  # a year, not a number: no separator
    assert "<td>E-administration</td>" in page
    assert "Lavérune (34134)" in page
    assert "150,11 €" in page
    response = console.get("/facturation/2022.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert ";67,34;" in response.content.decode()

    failed = console.get("/facturation/1999/")
    assert failed.status_code == 400
    assert "Aucune règle de tarification pour 1999" in failed.content.decode()
