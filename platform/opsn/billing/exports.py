"""The preview as CSV (French spreadsheet conventions: ';' separator, ',' decimals)."""

import csv
from typing import Protocol

from opsn.billing.computation import Preview
from opsn.kernel.money import from_cents

HEADER = ["annee", "code_insee", "commune", "application", "regle", "population",
          "population_retenue", "montant_avant_remise", "remise_pourcent", "montant", "calcul"]


def _decimal(value) -> str:
    return str(value).replace(".", ",")


class Writable(Protocol):
    def write(self, text: str, /) -> object: ...


def write_preview_csv(preview: Preview, handle: Writable) -> None:
    writer = csv.writer(handle, delimiter=";")
    writer.writerow(HEADER)
    for line in preview.lines:
        writer.writerow([preview.year, line.insee_code, line.commune, line.module,
                         line.rule_kind, line.population or "", line.population_label,
                         _decimal(from_cents(line.base_cents)),
                         _decimal(line.discount_percent) if line.discount_percent else "",
                         _decimal(line.amount), line.explanation])
