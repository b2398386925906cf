"""The official data on French communes is loaded, kept per year, and bad files refused."""

import gzip
import json
import shutil

import pytest
from django.core.management import CommandError, call_command

from opsn.referentiel.loader import SHIPPED_RELEASE, ReferenceDataError, load_release
from opsn.referentiel.models import DataRelease, Epci, OfficialCommune, Population


def test_the_shipped_release_describes_every_current_commune(db):
    assert OfficialCommune.objects.filter(is_current=True).count() == 34_969
    assert Epci.objects.count() == 1_255
    venissieux = OfficialCommune.objects.get(insee_code="69259")
    assert venissieux.name == "Vénissieux"
    assert venissieux.siren == "216902593"
    assert venissieux.departement_name == "Rhône"
    assert venissieux.region_name == "Auvergne-Rhône-Alpes"
    assert venissieux.epci.name == "Métropole de Lyon"
    assert venissieux.postal_codes == ["69200"]


def test_populations_are_kept_per_year_with_totale_where_the_data_has_it(db):
    montpellier = OfficialCommune.objects.get(insee_code="34172")
    assert {p.year: (p.municipale, p.totale) for p in montpellier.populations.all()} == {
        2023: (310_240, None),
        2022: (307_101, 310_611),
    }


def test_former_codes_lead_to_the_commune_that_absorbed_them(db):
    assert "69152" in OfficialCommune.objects.get(insee_code="69149").former_codes


def _small_release(tmp_path, communes, epcis=None):
    folder = tmp_path / "decoupage-administratif-7.0.0"
    folder.mkdir()
    for stem in ("departements", "regions"):
        shutil.copy(SHIPPED_RELEASE / f"{stem}.json.gz", folder / f"{stem}.json.gz")
    (folder / "communes.json").write_text(json.dumps(communes), encoding="utf-8")
    (folder / "epci.json").write_text(json.dumps(epcis or []), encoding="utf-8")
    return folder


def test_a_newer_release_adds_a_year_and_keeps_the_earlier_ones(db, tmp_path):
    with gzip.open(SHIPPED_RELEASE / "communes.json.gz", "rt", encoding="utf-8") as fh:
        venissieux = next(c for c in json.load(fh) if c["code"] == "69259")
    venissieux["population"] = 66_000
    folder = _small_release(tmp_path, [venissieux])

    call_command("load_referentiel", str(folder), "--population-year", "2024",
                 "--epci-population-year", "2024")

    populations = dict(Population.objects.filter(commune_id="69259").values_list("year",
                                                                               "municipale"))
    assert populations[2024] == 66_000
    assert populations[2023] == 65_502  # the shipped figure is still there
    assert DataRelease.objects.filter(name="decoupage-administratif-7.0.0",
                                      population_year=2024).exists()
    # Communes absent from the new release are kept, but no longer current.
    lyon = OfficialCommune.objects.get(insee_code="69123")
    assert not lyon.is_current
    assert lyon.populations.filter(year=2023).exists()


def test_a_release_that_is_not_json_changes_nothing(db, tmp_path):
    folder = _small_release(tmp_path, [])
    (folder / "communes.json").write_text('[{"code": "69259",', encoding="utf-8")
    before = Population.objects.count()
    with pytest.raises(ReferenceDataError, match="communes.json: not valid JSON"):
        load_release(folder, population_year=2024)
    assert Population.objects.count() == before


def test_an_entry_without_a_name_is_reported_with_its_position(db, tmp_path):
    folder = _small_release(tmp_path, [
        {"code": "69259", "nom": "Vénissieux", "departement": "69", "region": "84"},
        {"code": "69256", "departement": "69", "region": "84"},
    ])
    with pytest.raises(CommandError, match=r"communes.json, entry 2: field 'nom' is missing"):
        call_command("load_referentiel", str(folder), "--population-year", "2024")
    assert not DataRelease.objects.filter(name=folder.name).exists()


def test_a_folder_without_the_files_says_which_file_is_missing(db, tmp_path):
    with pytest.raises(CommandError, match="no communes.json"):
        call_command("load_referentiel", str(tmp_path), "--population-year", "2024")
