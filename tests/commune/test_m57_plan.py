"""The M57 plan of accounts: the edition shipped in every commune, a new edition loaded
with ``opsn m57_load`` (all of it or nothing, again without effect, what changed said),
and the files it refuses with a French message naming the line."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from opsn.finance.errors import FinanceError
from opsn.finance.models import Fonction, Nature
from opsn.finance.plan import load_plan, read_plan
from opsn.finance.selectors import checked_imputation
from tests.helpers.communes import in_schema

SHIPPED = (Path(__file__).resolve().parents[2] / "tenants" / "opsn" / "finance" / "data"
           / "m57-2026.csv")
HEADER = "edition;type;code;libelle;chapitre\n"


def plan_file(*lines: str, header: str = HEADER) -> bytes:
    return (header + "".join(f"{line}\n" for line in lines)).encode()


def edition_2027() -> bytes:
    """The shipped edition, with one account renamed, one added, one gone."""
    text = SHIPPED.read_text(encoding="utf-8").replace("2026;", "2027;")
    text = text.replace("Autres prestations de services", "Autres prestations de services "
                        "(libellé 2027)")
    text = text.replace("2027;nature;7078;Autres marchandises;70\n", "")
    return (text + "2027;nature;70689;Prestations de services numériques;70\n").encode()


def test_every_commune_has_the_shipped_edition(venissieux, vaulx):
    for commune in (venissieux, vaulx):
        with in_schema(commune):
            school = Nature.objects.get(code="7067")
            assert (school.label, school.chapter, school.edition, school.imputable) == (
                "Redevances et droits des services périscolaires et d'enseignement", "70",
                "2026", True)
            assert not Nature.objects.get(code="706").imputable  # it divides further
            assert Fonction.objects.get(code="281").label == (
                "Hébergement et restauration scolaires")
            assert Nature.objects.count() + Fonction.objects.count() == len(
                SHIPPED.read_text().splitlines()) - 1


def test_loading_the_shipped_file_again_changes_nothing(venissieux):
    with in_schema(venissieux):
        done = load_plan(read_plan(SHIPPED.read_bytes()))
        assert (done.added, done.changed, done.retired) == ([], [], [])
        assert done.summary() == "édition 2026 : rien à changer (90 lignes déjà à jour)"


def test_a_new_edition_adds_renames_and_retires_and_says_so(venissieux):
    with in_schema(venissieux):
        done = load_plan(read_plan(edition_2027()))
        # 707 lost its only sub-account: it is now the most detailed level, imputable
        assert (done.added, done.changed, done.retired) == (
            ["nature 70689"], ["nature 70688", "nature 707"], ["nature 7078"])
        assert Nature.objects.get(code="707").imputable
        assert Nature.objects.get(code="7078").retired_in == "2027"  # kept, not deleted
        assert Nature.objects.get(code="7067").edition == "2027"
        with pytest.raises(FinanceError, match="a été retiré de la nomenclature M57 "
                                               r"\(édition 2027\)"):
            checked_imputation("7078")
        again = load_plan(read_plan(edition_2027()))
        assert again.changes == 0
        with pytest.raises(FinanceError, match="L'édition 2026 est plus ancienne que "
                                               "l'édition 2027 déjà chargée"):
            load_plan(read_plan(SHIPPED.read_bytes()))
        assert Nature.objects.get(code="7078").retired_in == "2027"


def test_the_command_loads_every_commune_and_says_what_changed(venissieux, vaulx, tmp_path):
    path = tmp_path / "m57-2027.csv"
    path.write_bytes(edition_2027())
    out = io.StringIO()
    call_command("m57_load", str(path), stdout=out)
    text = out.getvalue()
    assert ("Vénissieux : édition 2027 : 1 ajoutée(s), 2 modifiée(s), 1 retirée(s), "
            "87 inchangée(s)") in text
    assert "  ajouté : nature 70689" in text
    assert text.count("retiré : nature 7078") >= 2  # each commune
    for commune in (venissieux, vaulx):
        with in_schema(commune):
            assert Nature.objects.filter(code="70689").exists()
    out = io.StringIO()
    call_command("m57_load", str(path), "--commune", "69259", stdout=out)
    assert out.getvalue().startswith("Vénissieux : édition 2027 : rien à changer")


BAD_FILES = [
    ("windows-1252", (HEADER + "2027;nature;7067;Redevances périscolaires;70\n").encode(
        "cp1252"), 2, "n'est pas encodé en UTF-8 (octet 0xE9)"),
    ("NUL byte", plan_file("2027;nature;7067;Cantine\x00;70"), 2, "caractère nul"),
    ("missing column", plan_file("2027;nature;7067;Cantine",
                                 header="edition;type;code;libelle\n"), 1,
     "Colonne(s) manquante(s) : chapitre"),
    ("commas", plan_file("2027,nature,7067,Cantine,70",
                         header="edition,type,code,libelle,chapitre\n"), 1,
     "séparés par des virgules"),
    ("short line", plan_file("2027;nature;7067"), 2, "3 champ(s) au lieu de 5"),
    ("two editions", plan_file("2027;nature;7067;Cantine;70", "2028;nature;7066;Social;70"),
     3, "mêle deux éditions : 2027 et 2028"),
    ("unknown type", plan_file("2027;compte;7067;Cantine;70"), 2, "Type « compte » inconnu"),
    ("not a code", plan_file("2027;nature;70-67;Cantine;70"), 2, "« 70-67 » n'est pas un code"),
    ("wrong chapter", plan_file("2027;nature;7067;Cantine;75"), 2, "n'a pas son chapitre"),
    ("twice", plan_file("2027;nature;7067;Cantine;70", "2027;nature;7067;Cantine;70"), 3,
     "apparaît deux fois (déjà ligne 2)"),
    ("no label", plan_file("2027;nature;7067;;70"), 2, "Le libellé manque"),
    ("no nature", plan_file("2027;fonction;281;Restauration;"), None,
     "aucun compte par nature"),
    ("empty", b"", None, "Le fichier est vide"),
]


@pytest.mark.parametrize("content, line, message", [b[1:] for b in BAD_FILES],
                         ids=[b[0] for b in BAD_FILES])
def test_a_malformed_file_is_refused_and_nothing_is_loaded(venissieux, tmp_path, content,
                                                           line, message):
    with pytest.raises(FinanceError, match=re.escape(message)) as refused:
        read_plan(content)
    assert refused.value.line == line
    path = tmp_path / "m57.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=re.escape(message)) as failed:
        call_command("m57_load", str(path))
    assert failed.value.returncode == 2
    with in_schema(venissieux):
        assert not Nature.objects.exclude(edition="2026").exists()
