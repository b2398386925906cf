"""The convention's calendar for subscription changes, kept history, and newcomers."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from opsn.billing import issuing, services
from opsn.billing.computation import BillingError, compute_year
from opsn.communes import services as communes
from opsn.communes.models import CommuneModule


def since(year, commune=None):
    qs = CommuneModule.objects.all() if commune is None else commune.communemodule_set.all()
    qs.update(starts_on=datetime.date(year, 1, 1))


@pytest.mark.parametrize("requested, effective", [
    (datetime.date(2024, 3, 1), datetime.date(2025, 1, 1)),
    (datetime.date(2024, 9, 30), datetime.date(2025, 1, 1)),  # the last day
])
def test_a_change_requested_in_time_takes_effect_on_the_next_1_january(
        venissieux, requested, effective):
    since(2020, venissieux)
    request = services.subscription_request(commune=venissieux, action="remove",
                                            module="regies", requested_on=requested)
    assert (request.deadline, request.effective_on, request.late) == (
        datetime.date(2024, 9, 30), effective, False)
    sub = venissieux.communemodule_set.get(module_id="regies")
    assert sub.ends_on == effective
    assert venissieux.communemodule_set.current(datetime.date(2024, 12, 31)).filter(
        module_id="regies").exists()
    assert not venissieux.communemodule_set.current(effective).filter(
        module_id="regies").exists()


def test_a_late_change_is_refused_with_the_dates_unless_accepted(venissieux):
    since(2020, venissieux)
    with pytest.raises(BillingError, match=r"reçue le 01/10/2024, après la date limite du "
                                           r"30/09/2024 .* acceptée pour le 1er janvier 2026"):
        services.subscription_request(commune=venissieux, action="remove", module="regies",
                                      requested_on=datetime.date(2024, 10, 1))
    assert venissieux.communemodule_set.get(module_id="regies").ends_on is None

    request = services.subscription_request(
        commune=venissieux, action="remove", module="regies",
        requested_on=datetime.date(2024, 10, 1), accept_late=True)
    assert request.late and request.effective_on == datetime.date(2026, 1, 1)


def test_adding_an_application_bills_it_from_the_next_year(venissieux, vaulx):
    since(2020)
    services.subscription_request(commune=venissieux, action="remove", module="regies",
                                  requested_on=datetime.date(2023, 5, 1))
    services.subscription_request(commune=venissieux, action="add", module="regies",
                                  requested_on=datetime.date(2024, 6, 1))
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="100")
    services.rule_set(module="regies", year=2025, kind="flat", flat_amount="100")
    assert {line.insee_code for line in compute_year(2024).lines} == {"69256"}
    assert {line.insee_code for line in compute_year(2025).lines} == {"69256", "69259"}
    with pytest.raises(BillingError, match="déjà abonnée"):
        services.subscription_request(commune=venissieux, action="add", module="regies",
                                      requested_on=datetime.date(2024, 7, 1))


def test_leaving_ends_every_subscription_on_1_january(venissieux):
    since(2020, venissieux)
    services.subscription_request(commune=venissieux, action="leave",
                                  requested_on=datetime.date(2024, 9, 1))
    assert set(venissieux.communemodule_set.values_list("ends_on", flat=True)) == {
        datetime.date(2025, 1, 1)}


def test_the_operator_s_immediate_change_keeps_the_ended_period(venissieux):
    since(2020, venissieux)
    communes.commune_set_modules(commune=venissieux, modules=["regies"])
    ended = venissieux.communemodule_set.exclude(module_id="regies")
    assert ended.count() == 5
    assert set(ended.values_list("ends_on", flat=True)) == {timezone.localdate()}
    assert list(venissieux.communemodule_set.current().values_list("module_id", flat=True)) == [
        "regies"]


def test_a_newcomer_pays_double_until_it_catches_up(venissieux, vaulx):
    """Vaulx-en-Velin joined in 2022, Vénissieux in 2024, same bracket (< 100 000 inh.)."""
    since(2022, vaulx)
    since(2024, venissieux)
    for year in (2022, 2023, 2024, 2025, 2026):
        services.rule_set(module="espace-citoyen", year=year, kind="tiers",
                          population_year=2023, newcomer_double=True,
                          brackets=[(0, 100_000, "7500"), (100_000, None, "15000")])
    paid = {}
    for year in (2022, 2023, 2024, 2025, 2026):
        issuing.billing_issue(year=year)
        lines = {line.insee_code: line for line in compute_year(year).lines
                 if line.module == "espace-citoyen"}
        paid[year] = {code: line.amount for code, line in lines.items()}
    assert paid[2022] == {"69256": Decimal("7500.00")}
    assert paid[2023] == {"69256": Decimal("7500.00")}
    # Vaulx has paid 15 000 before 2024; Vénissieux pays double twice, then catches up.
    assert paid[2024] == {"69256": Decimal("7500.00"), "69259": Decimal("15000.00")}
    assert paid[2025] == {"69256": Decimal("7500.00"), "69259": Decimal("15000.00")}
    assert paid[2026] == {"69256": Decimal("7500.00"), "69259": Decimal("7500.00")}
    explanation = next(line.explanation for line in compute_year(2025).lines
                       if line.insee_code == "69259" and line.module == "espace-citoyen")
    assert "rattrapage (nouvel entrant" in explanation


def test_the_newcomer_rule_is_for_tiers_only(db):
    with pytest.raises(BillingError, match="nouveaux entrants"):
        services.rule_set(module="regies", year=2024, kind="flat", flat_amount="10",
                          newcomer_double=True)


def test_requests_from_the_command_line_and_the_late_ones_shown(venissieux, console, capsys):
    since(2020, venissieux)
    call_command("billing_subscription", "remove", "69259", "regies",
                 "--requested-on", "2024-11-15", "--accept-late")
    assert "à compter du 01/01/2026 (demande en retard)" in capsys.readouterr().out
    with pytest.raises(CommandError, match="date limite") as late:
        call_command("billing_subscription", "add", "69259", "open-data",
                     "--requested-on", "2024-12-01")
    assert late.value.returncode == 2
    page = console.get("/facturation/").content.decode()
    assert "en retard (limite 30/09/2024)" in page
