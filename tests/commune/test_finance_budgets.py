"""The commune's budgets as its public accountant files them: the identity a PES V2 file's
header carries (SIRET, collectivity and budget codes, accounting post), checked before it
is kept, and the budget a régie collects for."""

import re

import pytest

from opsn.audit.models import AuditEvent
from opsn.finance.errors import FinanceError, FinanceNotAllowed
from opsn.finance.models import Budget
from opsn.finance.selectors import principal_budget
from opsn.finance.services import budget_save
from opsn.regies.services import founding
from tests.helpers.communes import in_schema
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    PRINCIPAL_SIRET,
    make_agents,
    make_budget,
    make_regie,
)


def test_the_principal_budget_is_kept_with_its_pes_identity(venissieux):
    with in_schema(venissieux):
        make_agents()
        budget = make_budget(siret="216 902 593 00005", collectivity_code="047 ",
                             budget_code="0a")
        budget.refresh_from_db()
        assert (budget.siret, budget.collectivity_code, budget.budget_code, budget.post_code,
                budget.post_name) == (PRINCIPAL_SIRET, "047", "0A", "069027",
                                      "SGC de Vénissieux")
        assert principal_budget() == budget
        event = AuditEvent.objects.get(code="budget.saved")
        assert event.summary == ("Budget « Ville de Vénissieux – budget principal » (budget "
                                 "principal) enregistré : création")


@pytest.mark.parametrize("field, value, message", [
    ("siret", "21690259300006", "« 21690259300006 » n'est pas un SIRET : 14 chiffres dont le "
                                "dernier est une clé de contrôle"),
    ("siret", "2169025930000", "n'est pas un SIRET"),
    ("siret", "", "Le SIRET du budget manque"),
    ("collectivity_code", "47", "Le code collectivité (CodCol) a 3 caractères"),
    ("collectivity_code", "04-7", "Le code collectivité (CodCol) a 3 caractères"),
    ("budget_code", "001", "Le code budget (CodBud) a 2 caractères"),
    ("post_code", "SGC", "Le code du poste comptable (IdPost) est le codique DGFiP"),
    ("post_name", "", "Le nom du poste comptable manque"),
    ("name", "x" * 101, "Le libellé du budget a 100 caractères au plus"),
    ("kind", "annexe", "Choisissez le type de budget"),
])
def test_a_budget_identity_pes_could_not_carry_is_refused(venissieux, field, value, message):
    with in_schema(venissieux):
        make_agents()
        with pytest.raises(FinanceError, match=re.escape(message)) as refused:
            make_budget(**{field: value})
        assert refused.value.field == field
        assert not Budget.objects.exists()


def test_one_principal_budget_and_codes_once(venissieux):
    with in_schema(venissieux):
        make_agents()
        make_budget()
        with pytest.raises(FinanceError, match="déjà son budget principal"):
            make_budget(name="Autre", budget_code="01")
        with pytest.raises(FinanceError, match="Un autre budget a déjà les codes 047 / 00"):
            make_budget(kind="annex", name="Eau", siret="21690259300013")
        water = make_budget(kind="annex", name="Ville de Vénissieux – eau",
                            siret="21690259300013", budget_code="02")
        assert Budget.objects.count() == 2
        assert principal_budget() != water


def test_only_the_administrator_and_the_finance_staff_keep_budgets(venissieux):
    with in_schema(venissieux):
        make_agents()
        with pytest.raises(FinanceNotAllowed):
            budget_save(actor=MANDATAIRE, kind="principal", name="x", siret=PRINCIPAL_SIRET,
                        collectivity_code="047", budget_code="00", post_code="069027",
                        post_name="SGC")
        assert not Budget.objects.exists()


def test_a_regie_collects_for_the_principal_budget_unless_told_otherwise(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        principal = make_budget()
        water = make_budget(kind="annex", name="Eau", siret="21690259300013",
                            budget_code="02")
        assert regie.budget is None  # the principal
        founding.regie_imputation_set(regie=regie, actor=ADMIN, budget=water, nature="7066",
                                      fonction="421")
        regie.refresh_from_db()
        assert (regie.budget, regie.nature_id, regie.fonction_id) == (water, "7066", "421")
        assert principal.regies.count() == 0
