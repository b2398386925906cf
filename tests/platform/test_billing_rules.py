"""The yearly computation: every rule kind, modifiers, bad input (the Lavérune example, on
the 31 communes of the Métropole: test_billing_run.py)."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from opsn.billing import services
from opsn.billing.computation import BillingError, compute_year
from opsn.billing.models import Discount, PricingRule
from opsn.communes.models import Commune, CommuneModule
from tests.helpers.billing import subscribe_from


def test_population_tiers(db, venissieux, vaulx):
    subscribe_from(2024)
    services.rule_set(module="espace-citoyen", year=2024, kind="tiers", population_year=2023,
                      brackets=services.parse_brackets("0-55000:7500,55000-100000:15000,"
                                                       "100000-:22500"))
    lines = {line.insee_code: line for line in compute_year(2024).lines}
    assert lines["69259"].amount == Decimal("15000.00")  # Vénissieux, 65 502 inhabitants
    assert lines["69256"].amount == Decimal("7500.00")   # Vaulx-en-Velin, 53 069 inhabitants
    assert lines["69256"].population == 53_069


def test_flat_and_free_rules_and_a_first_year_discount(db, venissieux, vaulx):
    subscribe_from(2024)
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="14000")
    services.rule_set(module="open-data", year=2024, kind="free")
    Discount.objects.create(commune=venissieux, year=2024, module=None, percent=50,
                            reason="commune pilote, première année")
    lines = {(line.insee_code, line.module): line for line in compute_year(2024).lines}
    assert lines[("69259", "regies")].amount == Decimal("7000.00")
    assert lines[("69259", "regies")].base_cents == 1_400_000
    assert lines[("69256", "regies")].amount == Decimal("14000.00")
    assert lines[("69259", "open-data")].amount == Decimal("0.00")


def test_only_communes_subscribed_that_year_are_billed(db, venissieux, vaulx):
    subscribe_from(2023)  # Vaulx-en-Velin leaves on 1 January 2024
    CommuneModule.objects.filter(commune=vaulx).update(ends_on=datetime.date(2024, 1, 1))
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="100")
    assert {line.insee_code for line in compute_year(2024).lines} == {"69259"}
    services.rule_set(module="regies", year=2023, kind="flat", flat_amount="100")
    assert {line.insee_code for line in compute_year(2023).lines} == {"69259", "69256"}


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "per_inhabitant", "population_year": 2023}, "coût annuel global"),
    ({"kind": "per_inhabitant", "annual_cost": "-5", "population_year": 2023}, "négatif"),
    ({"kind": "per_inhabitant", "annual_cost": "10.001", "population_year": 2023},
     "deux décimales"),
    ({"kind": "per_inhabitant", "annual_cost": "100", "operator_share_amount": "200",
      "population_year": 2023}, "dépasse"),
    ({"kind": "per_inhabitant", "annual_cost": "100"}, "année de référence"),
    ({"kind": "tiers", "population_year": 2023,
      "brackets": [(0, 1000, "10"), (900, None, "20")]}, "chevauchent"),
    ({"kind": "tiers", "population_year": 2023,
      "brackets": [(0, 1000, "10"), (2000, None, "20")]}, "trou"),
    ({"kind": "tiers", "population_year": 2023,
      "brackets": [(0, 1000, "10"), (1000, 5000, "20")]}, "sans limite haute"),
    ({"kind": "flat"}, "forfait manque"),
])
def test_bad_rules_are_refused_and_nothing_is_saved(db, kwargs, message):

    with pytest.raises(BillingError, match=message):
        services.rule_set(module="regies", year=2024, **kwargs)
    assert not PricingRule.objects.exists()


def test_a_missing_population_for_the_reference_year_is_named(db, venissieux, vaulx):
    subscribe_from(2024)
    services.rule_set(module="regies", year=2024, kind="per_inhabitant", annual_cost="1000",
                      population_year=2019)
    with pytest.raises(BillingError, match=r"2 commune\(s\) sans population municipale 2019 : "
                                           r"Vaulx-en-Velin \(69256\), Vénissieux \(69259\)"):
        compute_year(2024)


def test_rules_are_set_from_the_command_line(db, capsys):
    call_command("billing_rule", "regies", "2025", "--tiers", "0-500000:7500,500000-:15000",
                 "--population-year", "2023")
    assert "regies 2025" in capsys.readouterr().out
    with pytest.raises(CommandError, match="illisible"):
        call_command("billing_rule", "regies", "2025", "--tiers", "0to5:10")
    with pytest.raises(CommandError, match="Application inconnue"):
        call_command("billing_rule", "billetterie", "2025", "--free")
    assert Commune.objects.count() == 2


def test_billing_pages_are_for_the_operator_only(db):

    assert Client(HTTP_HOST="console.localhost").get("/facturation/2022/").status_code == 302
    assert Client(HTTP_HOST="venissieux.localhost").get("/facturation/").status_code == 404
