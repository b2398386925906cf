"""Onboarding a whole EPCI or a list of communes: idempotent and resumable."""

import pytest
from django.core.management import CommandError, call_command

from opsn.communes import errors, services
from opsn.communes.models import Commune, OnboardingBatch

SITIV = ["69273", "69091", "69096", "69149", "42186", "42207", "69256", "69259"]


def test_a_whole_epci_is_onboarded_by_its_siren(db):
    epci, codes = services.epci_members("243400017")
    assert epci.name == "Montpellier Méditerranée Métropole"
    assert len(codes) == 31

    batch = services.batch_run(services.batch_create(label=epci.name, insee_codes=codes))

    assert batch.status == OnboardingBatch.Status.DONE
    assert batch.processed == 31
    assert Commune.objects.filter(epci_siren="243400017").count() == 31
    assert Commune.objects.get(insee_code="34134").name == "Lavérune"


def test_running_a_batch_twice_creates_nothing_twice(db, capsys):
    call_command("onboard_batch", *SITIV, verbosity=0)
    assert "6 created, 2 already onboarded, 0 errors" in capsys.readouterr().out
    count = Commune.objects.count()

    call_command("onboard_batch", *SITIV, verbosity=0)
    assert "0 created, 8 already onboarded, 0 errors" in capsys.readouterr().out
    assert Commune.objects.count() == count


def test_a_batch_with_bad_codes_onboards_the_rest_and_can_be_resumed(db, capsys):
    with pytest.raises(CommandError, match="1 commune\\(s\\) not onboarded") as failed:
        call_command("onboard_batch", "69273", "99999", "69091", verbosity=0)
    assert failed.value.returncode == 2
    batch = OnboardingBatch.objects.get()
    assert batch.outcomes["69273"] == "created"
    assert batch.outcomes["69091"] == "created"
    assert "Aucune commune actuelle" in batch.outcomes["99999"]

    # The operator fixes the list (here: the code really was 69096) and resumes.
    batch.insee_codes = ["69273", "69096", "69091"]
    batch.outcomes.pop("99999")
    batch.save()
    call_command("onboard_batch", "--resume", str(batch.pk), verbosity=0)
    batch.refresh_from_db()
    assert batch.status == OnboardingBatch.Status.DONE
    assert batch.outcomes == {"69273": "created", "69091": "created", "69096": "created"}


def test_an_unknown_epci_is_refused(db):
    with pytest.raises(errors.UnknownEpci, match="Aucun EPCI n'a le SIREN « 999999999 »"):
        services.epci_members("999999999")
    with pytest.raises(CommandError) as failed:
        call_command("onboard_batch", "--epci", "999999999", verbosity=0)
    assert failed.value.returncode == 3
    assert not OnboardingBatch.objects.exists()


def test_an_empty_list_is_refused(db):
    with pytest.raises(errors.UnknownInseeCode, match="vide"):
        services.batch_create(label="rien", insee_codes=["  "])
