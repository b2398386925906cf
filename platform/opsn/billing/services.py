"""Writes of billing data: every change goes through here (command line, console, API)."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from opsn.billing.computation import BillingError, check_rule
from opsn.billing.models import (
    Discount,
    Invoice,
    PopulationBracket,
    PopulationKind,
    PricingRule,
    ServiceCharge,
    SubscriptionRequest,
)
from opsn.communes.models import Commune, CommuneModule, Module
from opsn.kernel import money

logger = logging.getLogger("opsn.billing")


def parse_amount(value: str | Decimal | int, what: str) -> Decimal:
    """An amount of a pricing rule, a bracket or a service: zero allowed (a free tier)."""
    return money.parse_amount(value, what=what, allow_zero=True, error=BillingError)


@transaction.atomic
def rule_set(*, module: str, year: int, kind: str, annual_cost=None,
             operator_share_amount=None, operator_share_fraction=None, flat_amount=None,
             population_kind: str = PopulationKind.MUNICIPALE, population_year: int | None = None,
             brackets: Sequence[tuple[int, int | None, str | Decimal]] = (),
             newcomer_double: bool = False) -> PricingRule:
    """Create or replace the pricing rule of ``module`` for ``year``."""
    if not Module.objects.filter(code=module).exists():
        raise BillingError(f"Application inconnue : « {module} ».")
    if kind not in PricingRule.Kind.values:
        known = ", ".join(PricingRule.Kind.values)
        raise BillingError(f"Type de règle inconnu : « {kind} » ({known}).")
    if population_kind not in PopulationKind.values:
        raise BillingError(f"Population inconnue : « {population_kind} » (municipale ou totale).")
    fraction = None
    if operator_share_fraction is not None:
        try:
            fraction = Decimal(str(operator_share_fraction))
        except InvalidOperation:
            raise BillingError(f"Part de l'opérateur : « {operator_share_fraction} » n'est pas "
                               "une fraction.") from None
        if not Decimal(0) <= fraction <= Decimal(1):
            raise BillingError("La part de l'opérateur en fraction est entre 0 et 1 (0,5 = la "
                               "moitié).")
    PricingRule.objects.filter(module_id=module, year=year).delete()
    rule = PricingRule.objects.create(
        module_id=module, year=year, kind=kind,
        annual_cost=None if annual_cost is None else parse_amount(annual_cost, "Coût annuel"),
        operator_share_amount=(None if operator_share_amount is None
                               else parse_amount(operator_share_amount, "Part de l'opérateur")),
        operator_share_fraction=fraction,
        flat_amount=None if flat_amount is None else parse_amount(flat_amount, "Forfait"),
        population_kind=population_kind, population_year=population_year,
        newcomer_double=newcomer_double)
    PopulationBracket.objects.bulk_create([
        PopulationBracket(rule=rule, lower=lower, upper=upper,
                          amount=parse_amount(amount, "Strate"))
        for lower, upper, amount in brackets])
    check_rule(rule)  # refused -> the transaction rolls back: nothing saved
    return rule


def parse_brackets(text: str) -> list[tuple[int, int | None, str]]:
    """``0-500000:7500,500000-1000000:15000,1000000-:22500`` -> brackets."""
    brackets = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            bounds, amount = part.split(":")
            lower, upper = bounds.split("-")
            brackets.append((int(lower), int(upper) if upper else None, amount))
        except ValueError:
            raise BillingError(f"Strate « {part} » illisible : écrivez min-max:montant, par "
                               "exemple 0-500000:7500 (max vide pour la dernière).") from None
    return brackets


def change_deadline(year: int) -> datetime.date:
    """Last day to request a change that takes effect on 1 January of ``year`` + 1: the
    convention's "at least N months before the end of the year" (30 September for 3)."""
    month = 12 - settings.OPSN_SUBSCRIPTION_NOTICE_MONTHS
    return datetime.date(year, month + 1, 1) - datetime.timedelta(days=1)


@transaction.atomic
def subscription_request(*, commune: Commune, action: str, module: str | None = None,
                         requested_on: datetime.date | None = None,
                         accept_late: bool = False) -> SubscriptionRequest:
    """Record a commune's request and schedule its effect under the convention's calendar."""
    requested_on = requested_on or timezone.localdate()
    if action not in SubscriptionRequest.Action.values:
        raise BillingError(f"Demande inconnue : « {action} ».")
    if action != SubscriptionRequest.Action.LEAVE and (
            not module or not Module.objects.filter(code=module, is_active=True).exists()):
        raise BillingError(f"Application inconnue : « {module} ».")
    deadline = change_deadline(requested_on.year)
    late = requested_on > deadline
    effective = datetime.date(requested_on.year + (2 if late else 1), 1, 1)
    label = SubscriptionRequest.Action(action).label
    if late and not accept_late:
        raise BillingError(
            f"Demande de {label} reçue le {requested_on:%d/%m/%Y}, après la date limite du "
            f"{deadline:%d/%m/%Y} : elle ne peut pas prendre effet au 1er janvier "
            f"{requested_on.year + 1}. Elle peut être acceptée pour le 1er janvier "
            f"{effective.year}.")
    subs = CommuneModule.objects.filter(commune=commune).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gt=effective))
    if action == SubscriptionRequest.Action.ADD:
        assert module is not None  # checked above
        if subs.filter(module_id=module).exists():
            raise BillingError(f"{commune.name} est déjà abonnée à « {module} ».")
        CommuneModule.objects.create(commune=commune, module_id=module, starts_on=effective)
    else:
        ending = subs.filter(module_id=module) if action == "remove" else subs
        if not ending.exists():
            raise BillingError(f"{commune.name} n'a pas d'abonnement en cours à retirer.")
        ending.filter(starts_on__gte=effective).delete()  # never started: nothing to bill
        ending.filter(starts_on__lt=effective).update(ends_on=effective)
    return SubscriptionRequest.objects.create(
        commune=commune, module_id=module, action=action, requested_on=requested_on,
        deadline=deadline, effective_on=effective, late=late)


def _year_open(year: int) -> int:
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise BillingError(f"« {year} » n'est pas une année de facturation (2000 à 2100).",
                           field="year")
    if Invoice.objects.filter(year=year).exists():
        raise BillingError(f"Les contributions {year} sont déjà émises : une remise ne les "
                           "change plus (corrigez un titre par un avoir).", field="year")
    return year


def parse_percent(value: str | Decimal | int) -> Decimal:
    """A discount's percentage: more than 0, 100 at most, two decimals at most."""
    percent = money.parse_amount(value, field="percent", what="Remise", error=BillingError)
    if percent > 100:
        raise BillingError(f"Remise : {percent} % dépasse 100 %.", field="percent")
    return percent


@transaction.atomic
def discount_set(*, commune: Commune, year: int, percent: str | Decimal | int,
                 reason: str, module: str | None = None, by: str = "") -> Discount:
    """A discount for one commune and year, on one application or (``module`` None) on
    all: e.g. 50 % the first year of the Vaulx-en-Velin convention. A discount on one
    application wins over one on all. Refused once the year is issued, and when the same
    commune, year and application already have one (remove it first)."""
    year = _year_open(year)
    percent = parse_percent(percent)
    reason = " ".join((reason or "").split())
    if not reason:
        raise BillingError("Donnez le motif de la remise (il figure sur le titre).",
                           field="reason")
    if len(reason) > 200 or any(not ch.isprintable() for ch in reason):
        raise BillingError("Le motif : 200 caractères imprimables au plus.", field="reason")
    found = None
    if module:
        found = Module.objects.filter(code=module, is_active=True).first()
        if found is None:
            raise BillingError(f"Application inconnue : « {module[:40]} ».", field="module")
    same = Discount.objects.select_for_update().filter(commune=commune, year=year,
                                                       module=found).first()
    if same is not None:
        what = f"sur {found.name}" if found else "sur toutes les applications"
        held = str(same.percent).replace(".", ",")
        raise BillingError(f"{commune.name} a déjà une remise {what} en {year} "
                           f"({held} %) : retirez-la d'abord.",
                           field="module")
    discount = Discount.objects.create(commune=commune, year=year, module=found,
                                       percent=percent, reason=reason)
    logger.info("discount %s%% for %s (%s, %s) set by %s: %s", percent, commune.insee_code,
                year, module or "all", by or "-", reason)
    return discount


@transaction.atomic
def discount_remove(*, discount: Discount, by: str = "") -> None:
    _year_open(discount.year)
    logger.info("discount %s%% for %s (%s) removed by %s", discount.percent,
                discount.commune.insee_code, discount.year, by or "-")
    discount.delete()


@transaction.atomic
def service_charge_add(*, commune: Commune, year: int, label: str,
                       amount_excl_vat: str | Decimal | int,
                       vat_rate: str | Decimal | int = "20.00", by: str = "") -> ServiceCharge:
    """A one-off service (custom work, training) on the commune's titre of ``year``, on a
    line of its own, with VAT. Refused once the year is issued."""
    year = _year_open(year)
    label = " ".join((label or "").split())
    if not label:
        raise BillingError("Donnez l'intitulé de la prestation (il figure sur le titre).",
                           field="label")
    if len(label) > 200 or any(not ch.isprintable() for ch in label):
        raise BillingError("L'intitulé : 200 caractères imprimables au plus.", field="label")
    amount = money.parse_amount(amount_excl_vat, field="amount_excl_vat", what="Montant HT",
                                error=BillingError)
    rate = money.parse_amount(vat_rate, field="vat_rate", what="Taux de TVA",
                              allow_zero=True, error=BillingError)
    if rate >= 100:
        raise BillingError(f"Taux de TVA : {rate} % n'est pas un taux (moins de 100 %).",
                           field="vat_rate")
    charge = ServiceCharge.objects.create(commune=commune, year=year, label=label,
                                          amount_excl_vat=amount, vat_rate=rate)
    logger.info("service %s (%s € HT, TVA %s %%) for %s (%s) added by %s", label, amount,
                rate, commune.insee_code, year, by or "-")
    return charge


@transaction.atomic
def service_charge_remove(*, charge: ServiceCharge, by: str = "") -> None:
    _year_open(charge.year)
    logger.info("service %s for %s (%s) removed by %s", charge.label,
                charge.commune.insee_code, charge.year, by or "-")
    charge.delete()
