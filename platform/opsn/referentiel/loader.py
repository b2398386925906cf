"""Load a release of Etalab's `decoupage-administratif` data set into the reference tables.

One transaction: a file that does not parse, or an entry that lacks a field, changes
nothing and is reported with the file and the entry's position.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from opsn.kernel.errors import DomainError
from opsn.referentiel.models import DataRelease

SHIPPED_RELEASE = Path(__file__).parent / "data" / "decoupage-administratif-6.0.0"
# The shipped release carries two vintages: communes.json has the latest population
# municipale (2023: Montpellier 310,240), epci.json lists each member's municipale and
# totale of the year before (2022: Montpellier 307,101 / 310,611).
SHIPPED_POPULATION_YEAR = 2023


class ReferenceDataError(DomainError):
    """A release that cannot be loaded; the message names the file and the entry."""

    code = "reference_data_refused"


@dataclass(frozen=True)
class LoadReport:
    release: str
    population_year: int
    communes: int
    epcis: int
    populations: int
    retired: int


def _read_json(folder: Path, stem: str) -> list[dict[str, Any]]:
    for candidate in (folder / f"{stem}.json", folder / f"{stem}.json.gz"):
        if candidate.exists():
            opener = gzip.open if candidate.suffix == ".gz" else open
            try:
                with opener(candidate, "rt", encoding="utf-8") as fh:
                    data = json.load(fh)
            except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ReferenceDataError(f"{candidate.name}: not valid JSON ({exc})") from exc
            if not isinstance(data, list):
                raise ReferenceDataError(f"{candidate.name}: expected a JSON list of objects")
            return data
    raise ReferenceDataError(f"{folder}: no {stem}.json (or {stem}.json.gz) in this folder")


def _field(entry: dict[str, Any], key: str, file: str, index: int) -> Any:
    if not isinstance(entry, dict) or key not in entry or entry[key] in (None, ""):
        raise ReferenceDataError(f"{file}, entry {index + 1}: field '{key}' is missing")
    return entry[key]


def load_release(folder: Path | str = SHIPPED_RELEASE, *, population_year: int,
                 epci_population_year: int | None = None, name: str | None = None) -> LoadReport:
    """Load a release. ``population_year`` is the vintage of communes.json's populations;
    ``epci_population_year`` that of the members' figures in epci.json (default: the year
    before, as in the shipped release)."""
    folder = Path(folder)
    name = name or folder.name
    if epci_population_year is None:
        epci_population_year = population_year - 1
    for year in (population_year, epci_population_year):
        if not 1990 <= year <= 2100:
            raise ReferenceDataError(f"population year {year} is not plausible")
    communes = _read_json(folder, "communes")
    epcis = _read_json(folder, "epci")
    departements = {d["code"]: d["nom"] for d in _read_json(folder, "departements")}
    regions = {r["code"]: r["nom"] for r in _read_json(folder, "regions")}

    epci_rows: list[tuple[str, str, str]] = []
    epci_of: dict[str, str] = {}
    # (INSEE code, year) -> [municipale, totale]
    populations: dict[tuple[str, int], list[int | None]] = {}
    for i, e in enumerate(epcis):
        siren = str(_field(e, "code", "epci.json", i))
        epci_rows.append((siren, _field(e, "nom", "epci.json", i), e.get("type", "")))
        for m in e.get("membres", []):
            code = str(_field(m, "code", "epci.json", i))
            epci_of[code] = siren
            if m.get("populationMunicipale") is not None:
                municipale = int(m["populationMunicipale"])
                totale = m.get("populationTotale")
                if totale is not None and int(totale) < municipale:
                    raise ReferenceDataError(
                        f"epci.json, entry {i + 1}, member {code}: population totale {totale} "
                        f"is below population municipale {municipale}")
                populations[(code, epci_population_year)] = [
                    municipale, int(totale) if totale is not None else None]

    former: dict[str, set[str]] = {}
    for c in communes:
        if c.get("type") in ("commune-deleguee", "commune-associee") and c.get("chefLieu"):
            former.setdefault(str(c["chefLieu"]), set()).add(str(c["code"]))
        for old in c.get("anciensCodes", []) if c.get("type") == "commune-actuelle" else []:
            former.setdefault(str(c["code"]), set()).add(str(old))

    commune_rows: list[tuple[Any, ...]] = []
    for i, c in enumerate(communes):
        if c.get("type", "commune-actuelle") != "commune-actuelle":
            continue
        code = str(_field(c, "code", "communes.json", i))
        dep = str(_field(c, "departement", "communes.json", i))
        reg = str(_field(c, "region", "communes.json", i))
        commune_rows.append((
            code, _field(c, "nom", "communes.json", i), c.get("siren", ""), dep,
            departements.get(dep, dep), reg, regions.get(reg, reg),
            "{" + ",".join(c.get("codesPostaux", [])) + "}", epci_of.get(code),
            "{" + ",".join(sorted(former.get(code, set()) - {code})) + "}",
        ))
        if c.get("population") is not None and (code, population_year) not in populations:
            populations[(code, population_year)] = [int(c["population"]), None]
    current = {row[0] for row in commune_rows}
    population_rows = [(code, year, m, t) for (code, year), (m, t) in populations.items()
                       if code in current]

    with transaction.atomic():
        release, _ = DataRelease.objects.update_or_create(
            name=name,
            defaults={"population_year": population_year, "communes": len(commune_rows),
                      "epcis": len(epci_rows)},
        )
        with connection.cursor() as cursor:
            retired = _upsert(cursor, release.pk, epci_rows, commune_rows, population_rows)
    return LoadReport(name, population_year, len(commune_rows), len(epci_rows),
                      len(population_rows), retired)


def _upsert(cursor, release_id: int, epci_rows, commune_rows, population_rows) -> int:
    """COPY into temporary tables, then one INSERT … ON CONFLICT per table (fast: the whole
    of France loads in about a second)."""
    cursor.execute(
        "CREATE TEMP TABLE tmp_epci (siren text, name text, kind text) ON COMMIT DROP;"
        "CREATE TEMP TABLE tmp_commune (insee_code text, name text, siren text, dep text,"
        " dep_name text, reg text, reg_name text, postal text, epci text, former text)"
        " ON COMMIT DROP;"
        "CREATE TEMP TABLE tmp_population (insee_code text, year int, municipale int,"
        " totale int) ON COMMIT DROP;"
    )
    raw = cursor.cursor
    for table, rows in (("tmp_epci", epci_rows), ("tmp_commune", commune_rows),
                        ("tmp_population", population_rows)):
        with raw.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    cursor.execute(
        """
        INSERT INTO referentiel_epci (siren, name, kind, release_id)
        SELECT siren, name, kind, %(r)s FROM tmp_epci
        ON CONFLICT (siren) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
            release_id = EXCLUDED.release_id;
        INSERT INTO referentiel_officialcommune (insee_code, name, siren, departement_code,
            departement_name, region_code, region_name, postal_codes, epci_id, former_codes,
            release_id, is_current)
        SELECT insee_code, name, siren, dep, dep_name, reg, reg_name, postal::varchar(5)[],
            epci, former::varchar(5)[], %(r)s, true FROM tmp_commune
        ON CONFLICT (insee_code) DO UPDATE SET name = EXCLUDED.name, siren = EXCLUDED.siren,
            departement_code = EXCLUDED.departement_code,
            departement_name = EXCLUDED.departement_name, region_code = EXCLUDED.region_code,
            region_name = EXCLUDED.region_name, postal_codes = EXCLUDED.postal_codes,
            epci_id = EXCLUDED.epci_id, former_codes = EXCLUDED.former_codes,
            release_id = EXCLUDED.release_id, is_current = true;
        INSERT INTO referentiel_population (commune_id, year, municipale, totale, release_id)
        SELECT insee_code, year, municipale, totale, %(r)s FROM tmp_population
        ON CONFLICT (commune_id, year) DO UPDATE SET municipale = EXCLUDED.municipale,
            totale = EXCLUDED.totale, release_id = EXCLUDED.release_id;
        """,
        {"r": release_id},
    )
    cursor.execute(
        "UPDATE referentiel_officialcommune SET is_current = false WHERE is_current"
        " AND insee_code NOT IN (SELECT insee_code FROM tmp_commune)"
    )
    return cursor.rowcount


def ensure_loaded() -> None:
    """Load the shipped release if no release is loaded yet (demo, tests, first start)."""
    if not DataRelease.objects.exists():
        load_release(SHIPPED_RELEASE, population_year=SHIPPED_POPULATION_YEAR)
