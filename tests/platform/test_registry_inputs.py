"""Bad inputs to the commune registry are refused in one place (communes.services), with
a French message, by the console, the operator API and the command line alike."""

import pytest
from django.core.management import CommandError, call_command

from opsn.communes import errors, services
from opsn.communes.models import Commune, Module, OnboardingBatch


@pytest.mark.parametrize("typed", ["1053", "6925", "692590", "69 259", "2C001", "A9259",
                                   "69\x00259", ""])
def test_what_is_not_an_insee_code_is_refused_never_padded_nor_cut(db, typed):
    with pytest.raises(errors.InvalidInseeCode, match="n'est pas un code INSEE"):
        services.clean_insee_code(typed)


@pytest.mark.parametrize(("typed", "code"), [(" 69259", "69259"), ("69259 ", "69259"),
                                             ("\u00a001053\t", "01053"), ("2a004", "2A004")])
def test_an_insee_code_is_trimmed_and_upper_cased_only(typed, code):
    assert services.clean_insee_code(typed) == code


def test_a_four_digit_code_onboards_nothing(db):
    count = Commune.objects.count()
    with pytest.raises(errors.InvalidInseeCode) as refused:
        services.commune_onboard(insee_code="9273")  # was padded to 09273
    assert refused.value.field == "insee_code"
    assert Commune.objects.count() == count


def test_a_code_after_a_space_onboards_that_very_commune(db):
    commune = services.commune_onboard(insee_code=" 69273")
    assert (commune.insee_code, commune.name) == ("69273", "Corbas")


def test_a_commune_without_any_module_is_refused(db):
    with pytest.raises(errors.NoModule, match="au moins un module"):
        services.commune_onboard(insee_code="69273", modules=[])
    assert not Commune.objects.filter(insee_code="69273").exists()


def test_without_default_modules_an_onboarding_that_names_none_is_refused(db):
    Module.objects.update(default_on_onboarding=False)
    with pytest.raises(errors.NoModule):
        services.commune_onboard(insee_code="69273")
    assert not Commune.objects.filter(insee_code="69273").exists()


def test_a_batch_of_only_invalid_codes_does_not_run_and_lists_them(db):
    with pytest.raises(errors.UnknownInseeCode, match="99999, 99998") as refused:
        services.batch_create(label="fautes", insee_codes=["99999", "99998"])
    assert "Rien n'a été lancé" in refused.value.message
    with pytest.raises(errors.InvalidInseeCode, match="« 6925 », « 1053 »"):
        services.batch_create(label="fautes", insee_codes=["69273", "6925", "1053"])
    assert not OnboardingBatch.objects.exists()


def test_a_batch_without_modules_does_not_run(db):
    with pytest.raises(errors.NoModule):
        services.batch_create(label="rien", insee_codes=["69273"], modules=[])
    assert not OnboardingBatch.objects.exists()


def test_the_command_line_refuses_a_batch_of_bad_codes(db):
    with pytest.raises(CommandError, match="99999"):
        call_command("onboard_batch", "99999", verbosity=0)
    assert not OnboardingBatch.objects.exists()


@pytest.mark.parametrize("reason", ["", "   ", "\n", "x" * 301, "impayé\x00s"])
def test_a_suspension_needs_a_reason(db, venissieux, reason):
    with pytest.raises(errors.InvalidReason):
        services.commune_suspend(commune=venissieux, reason=reason)
    venissieux.refresh_from_db()
    assert venissieux.status == Commune.Status.ACTIVE


def test_the_command_line_refuses_a_suspension_without_reason(db, venissieux):
    with pytest.raises(CommandError, match="motif"):
        call_command("suspend", "69259", verbosity=0)
    assert Commune.objects.get(insee_code="69259").status == Commune.Status.ACTIVE
    call_command("suspend", "69259", "--reason", "  convention   échue ", verbosity=0)
    assert Commune.objects.get(insee_code="69259").status_reason == "convention échue"
