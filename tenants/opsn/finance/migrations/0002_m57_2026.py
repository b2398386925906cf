"""The M57 plan of accounts shipped with the platform: the 2026 edition's accounts and
fonction codes a régie imputes to (docs/finance-guide.md says where the list comes from).
``data/0002_m57_2026.csv`` is a frozen copy of ``finance/data/m57-2026.csv`` as this
migration loads it; later editions are loaded with ``opsn m57_load`` (and, for the
communes onboarded after them, by a migration like this one).

Plain SQL (no Python run): a new commune's schema is still built by replaying the
migrations' SQL."""

import csv
from pathlib import Path

from django.db import migrations

FILE = Path(__file__).parent / "data" / "0002_m57_2026.csv"


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql() -> str:
    with FILE.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    statements = []
    for kind, table in (("nature", "finance_nature"), ("fonction", "finance_fonction")):
        lines = [r for r in rows if r["type"] == kind]
        codes = sorted(r["code"] for r in lines)
        leaves = {c for i, c in enumerate(codes)
                  if not (i + 1 < len(codes) and codes[i + 1].startswith(c))}
        columns = "code, label, edition, retired_in, imputable" + (
            ", chapter" if kind == "nature" else "")
        values = ",\n    ".join(
            "(" + ", ".join([_quoted(r["code"]), _quoted(r["libelle"]), _quoted(r["edition"]),
                             "''", "true" if r["code"] in leaves else "false",
                             *([_quoted(r["chapitre"])] if kind == "nature" else [])]) + ")"
            for r in lines)
        statements.append(f"INSERT INTO {table} ({columns}) VALUES\n    {values};")
    return "\n".join(statements)


class Migration(migrations.Migration):
    dependencies = [("finance", "0001_initial")]
    operations = [migrations.RunSQL(_sql(), "DELETE FROM finance_nature; "
                                            "DELETE FROM finance_fonction;")]
