"""The preview as CSV (French spreadsheet conventions: ';' separator, ',' decimals) and
as an OpenDocument spreadsheet."""

import csv
from typing import Protocol

import tablib

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


def preview_ods(preview: Preview, names: dict[str, str]) -> bytes:
    """The preview as an OpenDocument spreadsheet (decision 0014): totals per application
    and per commune, then every line; amounts are number cells, text never a formula."""
    by_module: dict[str, list[int]] = {}
    by_commune: dict[str, list] = {}
    for line in preview.lines:
        module = by_module.setdefault(line.module, [0, 0])
        module[0] += 1
        module[1] += line.amount_cents
        commune = by_commune.setdefault(line.insee_code, [line.commune, 0])
        commune[1] += line.amount_cents
    book = tablib.Databook()
    book.add_sheet(tablib.Dataset(
        *[(names.get(code, code), count, from_cents(cents))
          for code, (count, cents) in sorted(by_module.items(),
                                             key=lambda item: names.get(item[0], item[0]))],
        headers=["Application", "Communes", "Total (€)"], title="Par application"))
    book.add_sheet(tablib.Dataset(
        *[(code, name, from_cents(cents))
          for code, (name, cents) in sorted(by_commune.items(), key=lambda item: item[1][0])],
        headers=["Code INSEE", "Commune", "Total (€)"], title="Par commune"))
    book.add_sheet(tablib.Dataset(
        *[(line.insee_code, line.commune, names.get(line.module, line.module),
           line.population or "", line.population_label, from_cents(line.base_cents),
           line.discount_percent if line.discount_percent else "", line.amount,
           line.explanation) for line in preview.lines],
        headers=["Code INSEE", "Commune", "Application", "Population", "Population retenue",
                 "Avant remise (€)", "Remise (%)", "Montant (€)", "Calcul"], title="Détail"))
    return book.export("ods")
