"""Reads of the commune's finance data: its budgets, and whether an imputation is one the
M57 plan allows (the one home of that rule: products, a régie's default, imports and the
API all check here)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Exists, OuterRef

from opsn.finance.errors import FinanceError
from opsn.finance.models import (
    Budget,
    BudgetKind,
    Fonction,
    HandedOverInvoice,
    InvoiceContest,
    Nature,
    ReleasedTitre,
)


def contested() -> Exists:
    """An invoice (``OuterRef("pk")``) whose payer contests it and the contest is not
    settled: neither reminded nor handed over meanwhile (the one home of that rule)."""
    return Exists(InvoiceContest.objects.filter(invoice=OuterRef("pk"), lifted_at__isnull=True))


def principal_budget() -> Budget | None:
    return Budget.objects.filter(kind=BudgetKind.PRINCIPAL).first()


@dataclass(frozen=True)
class Imputation:
    """A nature account and a fonction code (each may be blank: not imputed)."""

    nature: str = ""
    fonction: str = ""

    def __bool__(self) -> bool:
        return bool(self.nature)

    def __str__(self) -> str:
        if not self.nature:
            return "non imputé"
        return f"{self.nature} / {self.fonction}" if self.fonction else self.nature


def _entry(model, code: str, what: str, field: str):
    entry = model.objects.filter(code=code).first()
    if entry is None:
        raise FinanceError(f"{what} {code} n'est pas dans le plan de comptes M57 chargé : "
                           "vérifiez le code (par exemple 7067).", field=field)
    if entry.retired_in:
        raise FinanceError(f"{what} {code} ({entry.label}) a été retiré de la nomenclature "
                           f"M57 (édition {entry.retired_in}) : choisissez un code en vigueur.",
                           field=field)
    if not entry.imputable:
        finer = [e.code for e in model.objects.filter(code__startswith=code, retired_in="",
                                                         imputable=True)
                 .exclude(code=code).order_by("code")[:6]]
        raise FinanceError(f"{what} {code} ({entry.label}) se subdivise : imputez au niveau le "
                           f"plus détaillé ({', '.join(finer)}…).", field=field)
    return entry


def checked_imputation(nature: str = "", fonction: str = "") -> Imputation:
    """``nature`` and ``fonction`` as typed, checked against the plan: both blank (not
    imputed), or a current, most detailed nature account and, if given, a current
    fonction code. A fonction without a nature is refused."""
    nature = (nature or "").strip()
    fonction = (fonction or "").strip()
    if fonction and not nature:
        raise FinanceError("Indiquez le compte par nature de cette fonction.", field="nature")
    if nature:
        _entry(Nature, nature, "Le compte par nature", "nature")
    if fonction:
        _entry(Fonction, fonction, "La fonction", "fonction")
    return Imputation(nature=nature, fonction=fonction)


def imputable_natures():
    return Nature.objects.filter(imputable=True, retired_in="").order_by("code")


def current_fonctions():
    return Fonction.objects.filter(retired_in="").order_by("code")


def handed_over(invoice_id: int) -> HandedOverInvoice | None:
    """The hand-over that made the invoice a titre de recettes, if it was handed over: then
    the family pays the public accountant, no longer the régie (the one home of that rule:
    the counter, online payment and the pages ask here)."""
    return (HandedOverInvoice.objects.select_related("handover")
            .filter(invoice_id=invoice_id).first())


def was_handed_over(invoice_id: int) -> bool:
    """Whether the invoice is, or was, a titre de recettes (handed over, perhaps given back
    since: ``ReleasedTitre``)."""
    return (HandedOverInvoice.objects.filter(invoice_id=invoice_id).exists()
            or ReleasedTitre.objects.filter(invoice_id=invoice_id).exists())


def handed_over_of(invoice) -> HandedOverInvoice | None:
    """``handed_over`` for an invoice read with ``select_related("handed_over__handover")``
    (no query), or read plainly (one query)."""
    try:
        return invoice.handed_over
    except ObjectDoesNotExist:
        return None


def transmitted_message(number: str, item: HandedOverInvoice) -> str:
    """What the counter and online payment answer for an invoice handed over."""
    return (f"La facture {number} est transmise au comptable public (bordereau "
            f"{item.handover.number}/{item.handover.year}) : payez auprès du Trésor public, "
            "avec l'avis des sommes à payer que vous recevrez.")
