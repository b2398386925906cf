"""Writes of the commune's finance data: a budget's identity. Atomic, audited; pages and
commands call these."""

from __future__ import annotations

import re

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siret as stdnum_siret

from opsn.agents.models import Role
from opsn.agents.selectors import roles_of
from opsn.audit import events
from opsn.audit.services import record
from opsn.finance.errors import FinanceError, FinanceNotAllowed
from opsn.finance.models import Budget, BudgetKind
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import atomic

# The formats of the PES V2 header (EnTetePES), as docs/finance-guide.md says where they
# come from: letters and digits, of the length Hélios gives them.
FORMATS = {
    "collectivity_code": (re.compile(r"[0-9A-Z]{3}"), "Le code collectivité (CodCol) a 3 "
                          "caractères, chiffres ou majuscules, tel que le comptable public le "
                          "donne (par exemple 047)."),
    "budget_code": (re.compile(r"[0-9A-Z]{2}"), "Le code budget (CodBud) a 2 caractères, "
                    "chiffres ou majuscules (par exemple 00 pour le budget principal)."),
    "post_code": (re.compile(r"[0-9]{6,7}"), "Le code du poste comptable (IdPost) est le "
                  "codique DGFiP du poste : 6 chiffres (7 au plus), par exemple 069027."),
}
TEXTS = {"name": ("Le libellé du budget", 100, True),
         "post_name": ("Le nom du poste comptable", 100, True),
         "sender_code": ("Le sigle de l'émetteur", 30, False),
         "sender_address": ("L'adresse de l'émetteur", 100, False),
         "operator": ("Le nom du tiers de télétransmission", 100, False)}
FIELDS = ("kind", "name", "siret", *FORMATS, *[t for t in TEXTS if t != "name"])


def clean_siret(value: str) -> str:
    compact = stdnum_siret.compact(value or "")
    if not compact:
        raise FinanceError("Le SIRET du budget manque (14 chiffres).", field="siret")
    try:
        return stdnum_siret.validate(compact)
    except StdnumError:
        raise FinanceError(f"« {value.strip()} » n'est pas un SIRET : 14 chiffres dont le "
                           "dernier est une clé de contrôle (exemple : 21690259300005).",
                           field="siret") from None


def _clean(fields: dict) -> dict:
    clean = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items()}
    if clean.get("kind") not in BudgetKind.values:
        raise FinanceError("Choisissez le type de budget : principal ou annexe.", field="kind")
    for name, (label, length, required) in TEXTS.items():
        value = clean.get(name, "")
        if required and not value:
            raise FinanceError(f"{label} manque.", field=name)
        if len(value) > length:
            raise FinanceError(f"{label} a {length} caractères au plus.", field=name)
    clean["siret"] = clean_siret(clean.get("siret", ""))
    for name, (pattern, message) in FORMATS.items():
        value = clean.get(name, "").upper()
        if not pattern.fullmatch(value):
            raise FinanceError(message + (f" « {value} » ne convient pas." if value else ""),
                               field=name)
        clean[name] = value
    return clean


@atomic
def budget_save(*, actor: Actor, budget: Budget | None = None, **fields) -> Budget:
    """Create a budget, or change one. The administrator and the finance staff keep them."""
    if actor.kind != "system" and not roles_of(actor.account) & {Role.ADMINISTRATOR,
                                                                 Role.FINANCE}:
        raise FinanceNotAllowed("Seuls l'administrateur de la commune et le service "
                                "financier tiennent les budgets.")
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise FinanceError(f"Champ(s) inconnu(s) : {', '.join(sorted(unknown))}.")
    clean = _clean({name: fields.get(name, "") for name in FIELDS})
    others = Budget.objects.all() if budget is None else Budget.objects.exclude(pk=budget.pk)
    if clean["kind"] == BudgetKind.PRINCIPAL and others.filter(
            kind=BudgetKind.PRINCIPAL).exists():
        raise FinanceError("La commune a déjà son budget principal : un autre budget est un "
                           "budget annexe.", field="kind")
    if others.filter(collectivity_code=clean["collectivity_code"],
                     budget_code=clean["budget_code"]).exists():
        raise FinanceError(f"Un autre budget a déjà les codes {clean['collectivity_code']} / "
                           f"{clean['budget_code']} : chaque budget a son code budget.",
                           field="budget_code")
    if budget is None:
        budget = Budget(updated_by=actor.account, **clean)
        changes = "création"
    else:
        budget = Budget.objects.select_for_update().get(pk=budget.pk)
        diff = {k: v for k, v in clean.items() if getattr(budget, k) != v}
        changes = ", ".join(f"{k} = {v}" for k, v in diff.items()) or "sans changement"
        for key, value in clean.items():
            setattr(budget, key, value)
        budget.updated_by = actor.account
    budget.save()
    record(actor, events.BudgetSaved(target=f"budget:{budget.pk}", data={
        "name": budget.name, "kind": budget.get_kind_display(), "changes": changes}))
    return budget
