"""The yearly run's arithmetic: each subscribed commune's contribution per application.

Reads the registry once (subscriptions, populations, rules, discounts), computes in
integer cents, and returns a ``Preview``: nothing is written. A rule or a data set that
cannot be billed raises ``BillingError`` naming what is wrong, before any line is made.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.db.models import Q

from billing.allocation import largest_remainder
from billing.models import Discount, PopulationKind, PricingRule
from communes.models import CommuneModule
from referentiel.models import Population


class BillingError(ValueError):
    """The run cannot go on; the message says what to fix."""


def cents(amount: Decimal | None) -> int:
    if amount is None:
        return 0
    quantized = amount.quantize(Decimal("0.01"))
    if quantized != amount:
        raise BillingError(f"{amount} € a plus de deux décimales.")
    return int(quantized * 100)


def euros(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def format_euros(value: int) -> str:
    sign = "-" if value < 0 else ""
    whole, cent = divmod(abs(value), 100)
    return f"{sign}{whole:,}".replace(",", "\u202f") + f",{cent:02d} €"


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class Line:
    insee_code: str
    commune: str
    module: str
    rule_kind: str
    population: int | None
    population_label: str
    base_cents: int
    discount_percent: Decimal | None
    amount_cents: int
    explanation: str

    @property
    def amount(self) -> Decimal:
        return euros(self.amount_cents)


@dataclass
class Preview:
    year: int
    lines: list[Line] = field(default_factory=list)

    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)

    def by_module(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for line in self.lines:
            totals[line.module] += line.amount_cents
        return dict(totals)

    def by_commune(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for line in self.lines:
            totals[line.insee_code] += line.amount_cents
        return dict(totals)


def check_rule(rule: PricingRule) -> None:
    label = f"Règle {rule.module_id} {rule.year}"
    kind = PricingRule.Kind
    if rule.kind in (kind.PER_INHABITANT, kind.TIERS) and not rule.population_year:
        raise BillingError(f"{label} : l'année de référence de la population manque.")
    if rule.kind == kind.PER_INHABITANT:
        if rule.annual_cost is None or rule.annual_cost <= 0:
            raise BillingError(f"{label} : le coût annuel global de l'application manque.")
        if rule.operator_share_amount is not None and rule.operator_share_fraction is not None:
            raise BillingError(f"{label} : donnez la part de l'opérateur en montant ou en "
                               "fraction, pas les deux.")
        if (rule.operator_share_amount or 0) > rule.annual_cost:
            raise BillingError(f"{label} : la part de l'opérateur dépasse le coût annuel.")
    if rule.kind == kind.FLAT and rule.flat_amount is None:
        raise BillingError(f"{label} : le montant du forfait manque.")
    for value in (rule.annual_cost, rule.operator_share_amount, rule.flat_amount):
        if value is not None and value < 0:
            raise BillingError(f"{label} : montant négatif ({value} €).")
    if rule.kind == kind.TIERS:
        brackets = sorted(rule.brackets.all(), key=lambda b: b.lower)
        if not brackets:
            raise BillingError(f"{label} : aucune strate de population.")
        expected_lower = 0
        for b in brackets:
            if b.lower != expected_lower:
                what = "se chevauchent" if b.lower < expected_lower else "laissent un trou"
                raise BillingError(f"{label} : les strates {what} autour de {b.lower} habitants.")
            if b.amount < 0:
                raise BillingError(f"{label} : montant négatif ({b.amount} €).")
            if b.upper is None:
                if b is not brackets[-1]:
                    raise BillingError(f"{label} : seule la dernière strate peut être sans "
                                       "limite haute.")
                break
            expected_lower = b.upper
        if brackets[-1].upper is not None:
            raise BillingError(f"{label} : la dernière strate doit être sans limite haute "
                               f"(au-delà de {brackets[-1].upper} habitants).")


def _subscriptions(year: int, modules: list[str]) -> dict[str, list[tuple[str, str]]]:
    """module -> [(INSEE code, name)] of the communes subscribed at some time in ``year``."""
    start, end = datetime.date(year, 1, 1), datetime.date(year + 1, 1, 1)
    rows = (CommuneModule.objects.filter(module_id__in=modules, starts_on__lt=end)
            .filter(Q(ends_on__isnull=True) | Q(ends_on__gt=start))
            .values_list("module_id", "commune__insee_code", "commune__name"))
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for module, code, name in rows.iterator(chunk_size=20_000):
        found[module].append((code, name))
    return found


def _populations(year: int, kind: str) -> dict[str, int]:
    column = "totale" if kind == PopulationKind.TOTALE else "municipale"
    rows = Population.objects.filter(year=year).exclude(**{f"{column}__isnull": True})
    return dict(rows.values_list("commune_id", column).iterator(chunk_size=20_000))


def compute_year(year: int) -> Preview:
    rules = list(PricingRule.objects.filter(year=year).select_related("module")
                 .prefetch_related("brackets"))
    if not rules:
        raise BillingError(f"Aucune règle de tarification pour {year}.")
    for rule in rules:
        check_rule(rule)
    subscribed = _subscriptions(year, [r.module_id for r in rules])
    population_cache: dict[tuple[int, str], dict[str, int]] = {}
    discounts: dict[tuple[str, str | None], Decimal] = {
        (code, module): percent for code, module, percent in Discount.objects.filter(year=year)
        .values_list("commune__insee_code", "module_id", "percent")}

    preview = Preview(year)
    for rule in rules:
        communes = sorted(subscribed.get(rule.module_id, []))
        if not communes:
            continue
        population: dict[str, int] = {}
        label = ""
        if rule.population_year:
            key = (rule.population_year, rule.population_kind)
            if key not in population_cache:
                population_cache[key] = _populations(*key)
            available = population_cache[key]
            missing = [f"{name} ({code})" for code, name in communes if code not in available]
            if missing:
                shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
                raise BillingError(
                    f"Règle {rule.module_id} {year} : {len(missing)} commune(s) sans "
                    f"{rule.get_population_kind_display()} {rule.population_year} : {shown}.")
            population = {code: available[code] for code, _ in communes}
            label = f"{rule.get_population_kind_display()} {rule.population_year}"
        for line in _rule_lines(rule, communes, population, label):
            percent = discounts.get((line.insee_code, rule.module_id),
                                    discounts.get((line.insee_code, None)))
            if percent:
                basis_points = int(percent * 100)
                amount = _half_up(line.base_cents * (10_000 - basis_points), 10_000)
                line = Line(**{**line.__dict__, "discount_percent": percent,
                               "amount_cents": amount,
                               "explanation": f"{line.explanation} ; remise {percent} % → "
                                              f"{format_euros(amount)}"})
            preview.lines.append(line)
    return preview


def _rule_lines(rule: PricingRule, communes: list[tuple[str, str]], population: dict[str, int],
                label: str):
    kind = PricingRule.Kind
    if rule.kind == kind.PER_INHABITANT:
        cost = cents(rule.annual_cost)
        if rule.operator_share_fraction is not None:
            operator = _half_up(cost * int(rule.operator_share_fraction * 10_000), 10_000)
        else:
            operator = cents(rule.operator_share_amount)
        shared = cost - operator
        total_population = sum(population.values())
        if total_population == 0:
            raise BillingError(f"Règle {rule.module_id} {rule.year} : population totale nulle.")
        shares = largest_remainder(shared, population)
        for code, name in communes:
            exact = Fraction(shared * population[code], total_population) / 100
            yield Line(code, name, rule.module_id, rule.kind, population[code], label,
                       shares[code], None, shares[code],
                       f"{population[code]:,} / {total_population:,} hab. × ("
                       f"{format_euros(cost)} − {format_euros(operator)}) = "
                       f"{Decimal(exact.numerator) / Decimal(exact.denominator):.4f} € → "
                       f"{format_euros(shares[code])} (plus forts restes)".replace(",", "\u202f"))
    elif rule.kind == kind.TIERS:
        brackets = sorted(rule.brackets.all(), key=lambda b: b.lower)
        for code, name in communes:
            pop = population[code]
            bracket = next(b for b in brackets if pop >= b.lower and (b.upper is None
                                                                       or pop < b.upper))
            amount = cents(bracket.amount)
            upper = f"{bracket.upper:,}".replace(",", "\u202f") if bracket.upper else "∞"
            yield Line(code, name, rule.module_id, rule.kind, pop, label, amount, None, amount,
                       f"{pop:,} hab. dans la strate [{bracket.lower:,} ; ".replace(",", "\u202f")
                       + f"{upper}[ → {format_euros(amount)}")
    elif rule.kind == kind.FLAT:
        amount = cents(rule.flat_amount)
        for code, name in communes:
            yield Line(code, name, rule.module_id, rule.kind, None, "", amount, None, amount,
                       f"forfait {format_euros(amount)}")
    else:
        for code, name in communes:
            yield Line(code, name, rule.module_id, rule.kind, None, "", 0, None, 0, "gratuit")
