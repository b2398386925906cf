"""The yearly run's arithmetic: each subscribed commune's contribution per application.

Reads the registry once (subscriptions, populations, rules, discounts), computes in
integer cents, and returns a ``Preview``: nothing is written. A rule or a data set that
cannot be billed raises ``BillingError`` naming what is wrong, before any line is made.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import NamedTuple

from django.db.models import Min, Q, Sum

from opsn.billing.allocation import largest_remainder
from opsn.billing.models import (
    ConventionCost,
    Discount,
    Invoice,
    InvoiceLine,
    PopulationKind,
    PricingRule,
)
from opsn.communes.models import CommuneModule
from opsn.kernel.errors import DomainError
from opsn.kernel.money import format_cents, from_cents, to_cents
from opsn.referentiel.models import Population


class BillingError(DomainError):
    """The run cannot go on; the message says what to fix."""

    code = "billing_refused"


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


class Line(NamedTuple):  # a tuple: 200,000 of them are made in a second
    insee_code: str
    commune: str
    module: str
    rule_kind: str
    population: int | None
    population_label: str
    base_cents: int
    discount_percent: Decimal | None
    amount_cents: int
    # The numbers the explanation is written from (written only when asked: a preview of
    # every commune of France has 200,000 lines).
    formula: tuple = ()

    @property
    def amount(self) -> Decimal:
        return from_cents(self.amount_cents)

    @property
    def explanation(self) -> str:
        kind = PricingRule.Kind
        if self.rule_kind == kind.PER_INHABITANT:
            total_population, cost, operator, shared = self.formula
            population = self.population or 0
            exact = Fraction(shared * population, total_population) / 100
            text = (f"{_int(population)} / {_int(total_population)} hab. × ("
                    f"{format_cents(cost)} − {format_cents(operator)}) = "
                    f"{Decimal(exact.numerator) / Decimal(exact.denominator):.4f} € → "
                    f"{format_cents(self.base_cents)} (plus forts restes)")
        elif self.rule_kind == kind.TIERS:
            lower, upper, extra = self.formula
            text = (f"{_int(self.population or 0)} hab. dans la strate [{_int(lower)} ; "
                    f"{_int(upper) if upper is not None else '∞'}[ → "
                    f"{format_cents(self.base_cents - extra)}")
            if extra:
                text += (f" + {format_cents(extra)} de rattrapage (nouvel entrant : paie "
                         "double jusqu'à rejoindre les contributions cumulées des membres de "
                         "sa strate)")
        elif self.rule_kind == kind.FLAT:
            text = f"forfait {format_cents(self.base_cents)}"
        elif self.rule_kind == CONVENTION:
            number, amendment = self.formula
            text = f"coût annuel fixé par la convention n° {number}"
            if amendment:
                text += f" (avenant n° {amendment})"
            text += f" : {format_cents(self.base_cents)}"
        else:
            text = "gratuit"
        if self.discount_percent:
            text += f" ; remise {self.discount_percent} % → {format_cents(self.amount_cents)}"
        return text


CONVENTION = "convention"  # a line whose cost a convention fixes, not the pricing rule


def convention_costs(year: int) -> dict[tuple[str, str], tuple[int, str, int | None]]:
    """(INSEE code, module) -> (cents, convention number, amendment number) for the yearly
    costs the conventions in force during ``year`` fix: the latest convention to start,
    then the latest cost whose amendment dates from ``year`` or before."""
    rows = (ConventionCost.objects
            .filter(convention__starts_on__lte=datetime.date(year, 12, 31),
                    convention__ends_on__gte=datetime.date(year, 1, 1),
                    applies_from__lte=datetime.date(year, 12, 31))
            .order_by("convention__starts_on", "applies_from", "id")
            .values_list("convention__commune__insee_code", "module_id", "yearly_cost",
                         "convention__number", "amendment__number"))
    found: dict[tuple[str, str], tuple[int, str, int | None]] = {}
    for code, module, cost, number, amendment in rows:  # later rows win
        found[(code, module)] = (to_cents(cost, error=BillingError), number, amendment)
    return found


def _int(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


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
    if rule.newcomer_double and rule.kind != kind.TIERS:
        raise BillingError(f"{label} : la règle des nouveaux entrants (paient double) "
                           "s'applique aux forfaits par strate de population.")
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
    for module, code, name in rows:
        found[module].append((code, name))
    return found


def _populations(year: int, kind: str) -> dict[str, int]:
    column = "totale" if kind == PopulationKind.TOTALE else "municipale"
    rows = Population.objects.filter(year=year).exclude(**{f"{column}__isnull": True})
    return dict(rows.values_list("commune_id", column))


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

    fixed = convention_costs(year)

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
        lines = _rule_lines(rule, communes, population, label)
        if fixed:
            lines = [_fixed(line, fixed.get((line.insee_code, line.module)))
                     for line in lines]
        if not discounts:
            preview.lines.extend(lines)
            continue
        module = rule.module_id
        for line in lines:
            percent = discounts.get((line.insee_code, module),
                                    discounts.get((line.insee_code, None)))
            if percent:
                basis_points = int(percent * 100)
                amount = _half_up(line.base_cents * (10_000 - basis_points), 10_000)
                line = line._replace(discount_percent=percent, amount_cents=amount)
            preview.lines.append(line)
    return preview


def _fixed(line: Line, cost: tuple[int, str, int | None] | None) -> Line:
    """The convention's yearly cost instead of the rule's (the other communes' shares of
    a per-inhabitant rule are not changed by it)."""
    if cost is None:
        return line
    cents, number, amendment = cost
    return line._replace(rule_kind=CONVENTION, base_cents=cents, amount_cents=cents,
                         formula=(number, amendment))


def _newcomer_catch_up(rule: PricingRule, tier_of: dict[str, tuple]) -> dict[str, int]:
    """Extra cents each newcomer pays this year: up to one more bracket amount (so at most
    double), until its contributions of earlier years reach the largest of those of the
    communes of its bracket that subscribed before it."""

    first_start = dict(CommuneModule.objects.filter(
        module_id=rule.module_id, commune__insee_code__in=list(tier_of))
        .values_list("commune__insee_code").annotate(first=Min("starts_on")))
    paid_before: dict[str, int] = defaultdict(int)
    for code, total in (InvoiceLine.objects.filter(
            module_id=rule.module_id, invoice__year__lt=rule.year,
            invoice__kind=Invoice.Kind.INVOICE, invoice__insee_code__in=list(tier_of))
            .exclude(invoice__status=Invoice.Status.CORRECTED)
            .values_list("invoice__insee_code").annotate(total=Sum("amount"))):
        paid_before[code] = int(total * 100)
    extra: dict[str, int] = {}
    for code, tier in tier_of.items():
        earlier = [other for other, other_tier in tier_of.items()
                   if other_tier == tier and first_start[other] < first_start[code]]
        if not earlier:
            continue
        gap = max(paid_before[m] for m in earlier) - paid_before[code]
        if gap > 0:
            extra[code] = min(tier[2], gap)
    return extra


def _rule_lines(rule: PricingRule, communes: list[tuple[str, str]], population: dict[str, int],
                label: str):
    kind = PricingRule.Kind
    module, rule_kind = rule.module_id, rule.kind  # read once: 200,000 lines below
    if rule_kind == kind.PER_INHABITANT:
        cost = to_cents(rule.annual_cost, error=BillingError)
        if rule.operator_share_fraction is not None:
            operator = _half_up(cost * int(rule.operator_share_fraction * 10_000), 10_000)
        else:
            operator = to_cents(rule.operator_share_amount, error=BillingError)
        shared = cost - operator
        total_population = sum(population.values())
        if total_population == 0:
            raise BillingError(f"Règle {module} {rule.year} : population totale nulle.")
        shares = largest_remainder(shared, population)
        formula = (total_population, cost, operator, shared)
        for code, name in communes:
            yield Line(code, name, module, rule_kind, population[code], label, shares[code],
                       None, shares[code], formula)
    elif rule_kind == kind.TIERS:
        brackets = [(b.lower, b.upper, to_cents(b.amount, error=BillingError))
                    for b in sorted(rule.brackets.all(), key=lambda b: b.lower)]
        tier_of = {code: next(b for b in brackets if population[code] >= b[0]
                              and (b[1] is None or population[code] < b[1]))
                   for code, _ in communes}
        catch_up = _newcomer_catch_up(rule, tier_of) if rule.newcomer_double else {}
        for code, name in communes:
            lower, upper, amount = tier_of[code]
            extra = catch_up.get(code, 0)
            yield Line(code, name, module, rule_kind, population[code], label, amount + extra,
                       None, amount + extra, (lower, upper, extra))
    elif rule_kind == kind.FLAT:
        amount = to_cents(rule.flat_amount, error=BillingError)
        for code, name in communes:
            yield Line(code, name, module, rule_kind, None, "", amount, None, amount)
    else:
        for code, name in communes:
            yield Line(code, name, module, rule_kind, None, "", 0, None, 0)


def vat_breakdown(lines) -> dict[Decimal, tuple[Decimal, Decimal]]:
    """rate -> (basis, VAT) for the lines of one invoice. VAT is computed on each rate's
    basis and rounded half up to the cent (EN 16931, BR-CO-17), not line by line."""
    basis: dict[Decimal, Decimal] = defaultdict(Decimal)
    for line in lines:
        basis[line.vat_rate] += line.amount
    return {rate: (amount, (amount * rate / 100).quantize(Decimal("0.01"), ROUND_HALF_UP))
            for rate, amount in sorted(basis.items())}
