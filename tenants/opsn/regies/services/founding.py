"""A régie's founding act, its products, and who collects for it (appointments, hand-over
between titulaires, stand-ins). Each function is atomic and leaves a line in the audit
log; views, the API and commands call these and nothing else."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils import timezone
from stdnum import iban as stdnum_iban

from opsn.agents.selectors import commune_agents
from opsn.audit import events
from opsn.audit.services import record
from opsn.finance.models import Budget
from opsn.kernel.actors import Actor
from opsn.kernel.money import euros, parse_amount
from opsn.kernel.tenancy import atomic
from opsn.regies import selectors
from opsn.regies.errors import Duplicate, NotFound, Refused, RegieError
from opsn.regies.imputation import imputation
from opsn.regies.models import (
    Assignment,
    AssignmentRole,
    Handover,
    PaymentMode,
    Product,
    Regie,
    StandIn,
)
from opsn.regies.models.founding import validate_iban

AMENDABLE = ("name", "founding_act", "accepted_modes", "cash_limit", "cash_float",
             "deposit_period_days", "accountant", "ends_on", "iban", "counter_hours")


def _modes(values: Iterable[str]) -> list[str]:
    modes = list(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    unknown = [m for m in modes if m not in PaymentMode.values]
    if unknown:
        raise RegieError(f"Mode(s) de paiement inconnu(s) : {', '.join(unknown)}. Modes "
                         f"possibles : {', '.join(PaymentMode.values)}.", field="accepted_modes")
    if not modes:
        raise RegieError("L'acte constitutif doit autoriser au moins un mode d'encaissement.",
                         field="accepted_modes")
    return modes


def _period(value) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise RegieError("La périodicité des versements est un nombre de jours.",
                         field="deposit_period_days") from None
    if not 1 <= days <= 31:
        raise RegieError("Les fonds sont versés au comptable au moins une fois par mois "
                         "(CGCT, art. R1617-8) : de 1 à 31 jours.", field="deposit_period_days")
    return days


def _clean_founding_act(fields: dict) -> dict:
    clean = dict(fields)
    if "name" in clean and not (clean["name"] or "").strip():
        raise RegieError("Le nom de la régie manque.", field="name")
    if "accepted_modes" in clean:
        clean["accepted_modes"] = _modes(clean["accepted_modes"])
    for money_field in ("cash_limit", "cash_float"):
        if money_field in clean:
            clean[money_field] = parse_amount(clean[money_field], field=money_field,
                                              allow_zero=True, error=RegieError)
    if "deposit_period_days" in clean:
        clean["deposit_period_days"] = _period(clean["deposit_period_days"])
    if "iban" in clean:
        clean["iban"] = _iban(clean["iban"])
    if "counter_hours" in clean:
        clean["counter_hours"] = " ".join((clean["counter_hours"] or "").split())[:200]
    return clean


def _iban(value: str) -> str:
    """The régie's account for transfers, compact (FR76…); empty when it has none."""
    compact = stdnum_iban.compact(value or "")
    if not compact:
        return ""
    try:
        validate_iban(compact)
    except ValidationError as exc:
        raise RegieError(exc.messages[0], field="iban") from None
    return compact


@atomic
def regie_create(*, actor: Actor, number: str, name: str, accepted_modes: Iterable[str],
                 cash_limit, starts_on: datetime.date, cash_float="0",
                 deposit_period_days=30, accountant: str = "", founding_act: str = "",
                 ends_on: datetime.date | None = None) -> Regie:
    number = (number or "").strip()
    if not number:
        raise RegieError("Le numéro de la régie manque.", field="number")
    if Regie.objects.filter(number=number).exists():
        raise Duplicate(f"Une régie porte déjà le numéro {number}.", field="number")
    fields = _clean_founding_act({
        "name": name, "accepted_modes": accepted_modes, "cash_limit": cash_limit,
        "cash_float": cash_float, "deposit_period_days": deposit_period_days})
    if ends_on is not None and ends_on <= starts_on:
        raise RegieError("La date de fin doit suivre la date d'ouverture.", field="ends_on")
    regie = Regie.objects.create(number=number, starts_on=starts_on, ends_on=ends_on,
                                 accountant=accountant.strip(),
                                 founding_act=founding_act.strip(), **fields)
    record(actor, events.RegieCreated(target=f"regie:{regie.pk}",
                                      data={"number": number, "name": regie.name}))
    return regie


@atomic
def regie_amend(*, regie: Regie, actor: Actor, **changes) -> Regie:
    """An amendment of the founding act (arrêté modificatif)."""
    unknown = set(changes) - set(AMENDABLE)
    if unknown:
        raise RegieError(f"Champ(s) non modifiable(s) : {', '.join(sorted(unknown))}.")
    regie = Regie.objects.select_for_update().get(pk=regie.pk)
    clean = _clean_founding_act(changes)
    if clean.get("ends_on") is not None and clean["ends_on"] <= regie.starts_on:
        raise RegieError("La date de fin doit suivre la date d'ouverture.", field="ends_on")
    diff = {k: v for k, v in clean.items() if getattr(regie, k) != v}
    for key, value in diff.items():
        setattr(regie, key, value)
    if diff:
        regie.save(update_fields=list(diff))
        record(actor, events.RegieAmended(
            target=f"regie:{regie.pk}",
            data={"number": regie.number,
                  "changes": ", ".join(f"{k} = {v}" for k, v in diff.items())}))
    return regie


@atomic
def product_save(*, regie: Regie, actor: Actor, code: str, name: str, unit_price,
                 is_active: bool = True, nature: str = "", fonction: str = "") -> Product:
    """Add a product the régie may collect, or change its name, price, availability or M57
    imputation (blank: the régie's default). Invoices already issued keep the price and
    the imputation they were issued with."""
    code = (code or "").strip().lower()
    if not code:
        raise RegieError("Le code du produit manque.", field="code")
    if not (name or "").strip():
        raise RegieError("Le libellé du produit manque.", field="name")
    price = parse_amount(unit_price, field="unit_price", allow_zero=True, error=RegieError)
    imputed = imputation(nature, fonction)
    product, _ = Product.objects.update_or_create(
        regie=regie, code=code,
        defaults={"name": name.strip(), "unit_price": price, "is_active": is_active,
                  "nature_id": imputed.nature or None, "fonction_id": imputed.fonction or None})
    record(actor, events.ProductSaved(target=f"product:{product.pk}", data={
        "code": code, "name": product.name, "unit_price": euros(price).removesuffix(" €"),
        "regie": regie.number, "imputation": str(imputed)}))
    return product


@atomic
def regie_imputation_set(*, regie: Regie, actor: Actor, budget: Budget | None = None,
                         nature: str = "", fonction: str = "") -> Regie:
    """The budget the régie collects for (None: the principal budget) and the imputation
    of what it sells when a product has none of its own."""
    imputed = imputation(nature, fonction)
    regie = Regie.objects.select_for_update().get(pk=regie.pk)
    regie.budget = budget
    regie.nature_id = imputed.nature or None
    regie.fonction_id = imputed.fonction or None
    regie.save(update_fields=["budget", "nature", "fonction"])
    record(actor, events.ImputationSaved(target=f"regie:{regie.pk}", data={
        "regie": regie.number, "budget": budget.name if budget else "principal",
        "nature": imputed.nature or "aucune", "fonction": imputed.fonction or "aucune"}))
    return regie


def _check_account(account: str) -> str:
    account = (account or "").strip().lower()
    if not account:
        raise RegieError("Choisissez l'agent.", field="account")
    if account.startswith("service:"):
        return account
    if account not in commune_agents():
        raise NotFound(f"{account} n'est pas un agent de la commune : seuls les comptes "
                       "nominatifs des agents peuvent être nommés.", field="account")
    return account


@atomic
def assignment_grant(*, regie: Regie, actor: Actor, account: str, role: str,
                     starts_on: datetime.date | None = None) -> Assignment:
    """Appoint an agent to a régie. The titulaire changes only by a hand-over."""
    if role not in AssignmentRole.values:
        raise RegieError(f"Rôle inconnu : « {role} ».", field="role")
    account = _check_account(account)
    regie = Regie.objects.select_for_update().get(pk=regie.pk)
    starts_on = starts_on or timezone.localdate()
    if role == AssignmentRole.TITULAIRE and Assignment.objects.filter(
            regie=regie, role=role, ends_on__isnull=True).exists():
        raise Refused(f"La régie {regie.name} a déjà un régisseur titulaire : le changement "
                      "de titulaire se fait par une remise de service.", field="role")
    if Assignment.objects.filter(regie=regie, account=account, ends_on__isnull=True).exists():
        raise Duplicate(f"{account} est déjà nommé(e) dans la régie {regie.name}.",
                        field="account")
    assignment = Assignment.objects.create(regie=regie, account=account, role=role,
                                           starts_on=starts_on, granted_by=actor.account)
    record(actor, events.AssignmentGranted(target=f"regie:{regie.pk}", data={
        "account": account, "role": assignment.get_role_display(), "regie": regie.number,
        "starts_on": f"{starts_on:%d/%m/%Y}"}))
    return assignment


@atomic
def assignment_end(*, assignment: Assignment, actor: Actor,
                   ends_on: datetime.date | None = None) -> Assignment:
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    ends_on = ends_on or timezone.localdate()
    if assignment.ends_on is not None:
        raise Duplicate(f"La fonction de {assignment.account} a déjà pris fin le "
                        f"{assignment.ends_on:%d/%m/%Y}.")
    if assignment.role == AssignmentRole.TITULAIRE:
        raise Refused("Le régisseur titulaire quitte sa fonction par une remise de service "
                      "à son successeur.")
    if ends_on <= assignment.starts_on:
        raise RegieError("La fin doit suivre le début de la fonction.", field="ends_on")
    assignment.ends_on = ends_on
    assignment.save(update_fields=["ends_on"])
    record(actor, events.AssignmentEnded(target=f"regie:{assignment.regie_id}", data={
        "account": assignment.account, "role": assignment.get_role_display(),
        "regie": assignment.regie.number, "ends_on": f"{ends_on:%d/%m/%Y}"}))
    return assignment


@atomic
def handover_record(*, regie: Regie, actor: Actor, incoming: str,
                    on: datetime.date | None = None, notes: str = "") -> Handover:
    """Remise de service: the titulaire's appointment ends on ``on`` and ``incoming``'s
    begins; the funds held that day are written in the record."""
    incoming = _check_account(incoming)
    regie = Regie.objects.select_for_update().get(pk=regie.pk)
    on = on or timezone.localdate()
    current = Assignment.objects.filter(regie=regie, role=AssignmentRole.TITULAIRE,
                                        ends_on__isnull=True).first()
    if current is not None and current.account == incoming:
        raise Refused(f"{incoming} est déjà le régisseur titulaire.", field="incoming")
    if current is not None and on <= current.starts_on:
        raise RegieError("La remise de service suit la nomination du titulaire sortant.",
                         field="on")
    previous_role = Assignment.objects.filter(regie=regie, account=incoming,
                                              ends_on__isnull=True).first()
    for ending in (current, previous_role):
        if ending is not None:
            if on <= ending.starts_on:
                raise RegieError("La remise de service suit la nomination en cours de "
                                 f"{ending.account}.", field="on")
            ending.ends_on = on
            ending.save(update_fields=["ends_on"])
    Assignment.objects.create(regie=regie, account=incoming, role=AssignmentRole.TITULAIRE,
                              starts_on=on, granted_by=actor.account)
    held = {mode: str(amount) for mode, amount in selectors.holdings(regie).items() if amount}
    handover = Handover.objects.create(regie=regie, on=on, incoming=incoming,
                                       outgoing=current.account if current else "", held=held,
                                       notes=notes.strip(), recorded_by=actor.account)
    record(actor, events.HandoverRecorded(target=f"regie:{regie.pk}", data={
        "regie": regie.number, "on": f"{on:%d/%m/%Y}",
        "outgoing": handover.outgoing or "(aucun)", "incoming": incoming}))
    return handover


@atomic
def standin_record(*, regie: Regie, actor: Actor, account: str, starts_on: datetime.date,
                   ends_on: datetime.date, reason: str = "") -> StandIn:
    """The suppléant stands in for the absent titulaire (from ``starts_on`` to ``ends_on``
    included)."""
    account = (account or "").strip().lower()
    if ends_on < starts_on:
        raise RegieError("La fin du remplacement précède son début.", field="ends_on")
    suppleant = Assignment.objects.filter(regie=regie, account=account,
                                          role=AssignmentRole.SUPPLEANT,
                                          starts_on__lte=starts_on).exclude(
        ends_on__lte=ends_on).first()
    if suppleant is None:
        raise Refused(f"{account} n'est pas mandataire suppléant de la régie {regie.name} "
                      "sur toute cette période.", field="account")
    stand_in = StandIn.objects.create(regie=regie, account=account, starts_on=starts_on,
                                      ends_on=ends_on, reason=reason.strip(),
                                      recorded_by=actor.account)
    record(actor, events.StandInRecorded(target=f"regie:{regie.pk}", data={
        "account": account, "regie": regie.number, "starts_on": f"{starts_on:%d/%m/%Y}",
        "ends_on": f"{ends_on:%d/%m/%Y}"}))
    return stand_in
