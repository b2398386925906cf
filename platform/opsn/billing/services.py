"""Writes of billing data: every change goes through here (command line, console, API)."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from opsn.agents.models import AgentRole, Role
from opsn.audit.events import SubscriptionAsked, SubscriptionDecided
from opsn.audit.services import record
from opsn.billing.computation import BillingError, check_rule
from opsn.billing.models import (
    Discount,
    Invoice,
    PopulationBracket,
    PopulationKind,
    PricingRule,
    ServiceCharge,
    SubscriptionRequest,
    billing_event,
)
from opsn.communes.models import Commune, CommuneModule, Module
from opsn.kernel import money
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import inside

logger = logging.getLogger("opsn.billing")


def parse_amount(value: str | Decimal | int, what: str) -> Decimal:
    """An amount of a pricing rule, a bracket or a service: zero allowed (a free tier)."""
    return money.parse_amount(value, what=what, allow_zero=True, error=BillingError)


def _blank(value):
    """A form sends every field; an empty one means « not given »."""
    if value is None:
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _parse_year(value, *, field: str, what: str) -> int | None:
    value = _blank(value)
    if value is None:
        return None
    try:
        year = int(str(value).strip())
    except ValueError:
        raise BillingError(f"{what} : « {str(value)[:20]} » n'est pas une année.",
                           field=field) from None
    if not 1900 <= year <= 2100:
        raise BillingError(f"{what} : « {year} » n'est pas une année (1900 à 2100).",
                           field=field)
    return year


_RULE_FIELDS = {  # which parameters each kind of rule takes
    "annual_cost": ("per_inhabitant",),
    "operator_share_amount": ("per_inhabitant",),
    "operator_share_fraction": ("per_inhabitant",),
    "flat_amount": ("flat",),
    "brackets": ("tiers",),
}
_RULE_FIELD_LABELS = {
    "annual_cost": "le coût annuel", "operator_share_amount": "la part de l'opérateur",
    "operator_share_fraction": "la part de l'opérateur", "flat_amount": "le forfait",
    "population_year": "l'année de population", "brackets": "les strates",
}


def _describe_rule(rule: PricingRule) -> str:
    kind = PricingRule.Kind
    if rule.kind == kind.PER_INHABITANT:
        share = (f"{rule.operator_share_fraction} du coût"
                 if rule.operator_share_fraction is not None
                 else f"{rule.operator_share_amount or 0} €")
        return (f"coût annuel {rule.annual_cost} €, part de l'opérateur {share}, population "
                f"{rule.population_kind} {rule.population_year}")
    if rule.kind == kind.TIERS:
        parts = ", ".join(f"{b.lower}-{'' if b.upper is None else b.upper}:{b.amount}"
                          for b in rule.brackets.order_by("lower"))
        return f"strates {parts} (population {rule.population_kind} {rule.population_year})"
    if rule.kind == kind.FLAT:
        return f"{rule.flat_amount} € par commune"
    return "gratuit"


@transaction.atomic
def rule_set(*, module: str, year: int, kind: str, annual_cost=None,
             operator_share_amount=None, operator_share_fraction=None, flat_amount=None,
             population_kind: str = PopulationKind.MUNICIPALE, population_year=None,
             brackets: str | Sequence[tuple[int, int | None, str | Decimal]] = (),
             newcomer_double: bool = False, by: str = "") -> PricingRule:
    """Create or replace the pricing rule of ``module`` for ``year`` (command line, console
    and operator API all come here). A parameter that does not belong to ``kind`` is
    refused rather than silently kept; the change is written in the billing trail."""
    module = (module or "").strip()
    if not Module.objects.filter(code=module).exists():
        raise BillingError(f"Application inconnue : « {module[:40]} ».", field="module")
    checked_year = _parse_year(year, field="year", what="Année")
    if checked_year is None or not 2000 <= checked_year <= 2100:
        raise BillingError(f"« {str(year)[:20]} » n'est pas une année de facturation "
                           "(2000 à 2100).", field="year")
    year = checked_year
    if Invoice.objects.filter(year=year).exists():
        raise BillingError(f"Les contributions {year} sont déjà émises : une règle ne les "
                           "change plus (corrigez un titre par un avoir).", field="year")
    if kind not in PricingRule.Kind.values:
        known = ", ".join(PricingRule.Kind.values)
        raise BillingError(f"Type de règle inconnu : « {str(kind)[:40]} » ({known}).",
                           field="kind")
    population_kind = population_kind or PopulationKind.MUNICIPALE
    if population_kind not in PopulationKind.values:
        raise BillingError(f"Population inconnue : « {str(population_kind)[:40]} » "
                           "(municipale ou totale).", field="population_kind")
    given = {"annual_cost": _blank(annual_cost),
             "operator_share_amount": _blank(operator_share_amount),
             "operator_share_fraction": _blank(operator_share_fraction),
             "flat_amount": _blank(flat_amount), "population_year": _blank(population_year),
             "brackets": _blank(brackets) or None}
    label = PricingRule.Kind(kind).label
    if kind not in ("per_inhabitant", "tiers"):  # a population says nothing to a flat fee
        given["population_year"] = None
    for name, value in given.items():
        if name == "population_year":
            continue
        if value is not None and kind not in _RULE_FIELDS[name]:
            raise BillingError(f"Une règle « {label} » ne prend pas {_RULE_FIELD_LABELS[name]} "
                               ": videz ce champ ou changez de type de règle.", field=name)
    raw = given["brackets"]
    parsed = parse_brackets(raw) if isinstance(raw, str) else list(raw or ())
    if given["operator_share_amount"] is not None and given["operator_share_fraction"] is not None:
        raise BillingError("Donnez la part de l'opérateur en montant ou en fraction, pas les "
                           "deux.", field="operator_share_fraction")
    population_year = _parse_year(given["population_year"], field="population_year",
                                  what="Année de population")
    if kind in ("per_inhabitant", "tiers") and population_year is None:
        raise BillingError("L'année de référence de la population manque (par exemple "
                           "l'année précédente).", field="population_year")
    if newcomer_double and kind != "tiers":
        raise BillingError("La règle des nouveaux entrants (paient double) s'applique aux "
                           "forfaits par strate de population.", field="newcomer_double")
    fraction = None
    if given["operator_share_fraction"] is not None:
        try:
            fraction = Decimal(str(given["operator_share_fraction"]).strip().replace(",", "."))
        except InvalidOperation:
            fraction = None
        if fraction is None or not fraction.is_finite():
            raise BillingError(f"Part de l'opérateur : « {str(operator_share_fraction)[:20]} » "
                               "n'est pas une fraction.", field="operator_share_fraction")
        exponent = fraction.as_tuple().exponent
        if not Decimal(0) <= fraction <= Decimal(1) or (isinstance(exponent, int)
                                                         and exponent < -4):
            raise BillingError("La part de l'opérateur en fraction est entre 0 et 1 (0,5 = la "
                               "moitié), quatre décimales au plus.",
                               field="operator_share_fraction")

    def amount(name: str, what: str) -> Decimal | None:
        value = given[name]
        if value is None:
            return None
        try:
            return parse_amount(value, what)
        except BillingError as exc:
            exc.field = name
            raise
    costs = {"annual_cost": amount("annual_cost", "Coût annuel"),
             "operator_share_amount": amount("operator_share_amount", "Part de l'opérateur"),
             "flat_amount": amount("flat_amount", "Forfait")}
    if kind == "per_inhabitant" and not costs["annual_cost"]:
        raise BillingError("Le coût annuel global de l'application manque (plus de 0 €).",
                           field="annual_cost")
    if kind == "flat" and costs["flat_amount"] is None:
        raise BillingError("Le montant du forfait manque : donnez ce que paie chaque commune.",
                           field="flat_amount")
    if kind == "tiers" and not parsed:
        raise BillingError("Donnez les strates de population, par exemple "
                           "0-500000:7500,500000-:15000.", field="brackets")
    strata = []
    for lower, upper, value in parsed:
        if not 0 <= lower <= 100_000_000 or (upper is not None and not 0 < upper <= 100_000_000):
            raise BillingError(f"Strate {lower}-{'' if upper is None else upper} : des "
                               "bornes entre 0 et 100 000 000 habitants.", field="brackets")
        try:
            strata.append((lower, upper, parse_amount(value, "Strate")))
        except BillingError as exc:
            exc.field = "brackets"
            raise
    PricingRule.objects.filter(module_id=module, year=year).delete()
    rule = PricingRule.objects.create(
        module_id=module, year=year, kind=kind,
        operator_share_fraction=fraction, population_kind=population_kind,
        population_year=population_year, newcomer_double=newcomer_double, **costs)
    PopulationBracket.objects.bulk_create([
        PopulationBracket(rule=rule, lower=lower, upper=upper, amount=value)
        for lower, upper, value in strata])
    try:
        check_rule(rule)  # refused -> the transaction rolls back: nothing saved
    except BillingError as exc:
        if exc.field is None and kind == "tiers":
            exc.field = "brackets"
        raise
    billing_event(code="rule.set", actor=by or "command line",
                  summary=f"Règle {module} {year} : {label}, {_describe_rule(rule)}",
                  module=module, year=year, kind=kind)
    return rule


def parse_brackets(text: str) -> list[tuple[int, int | None, str]]:
    """``0-500000:7500,500000-1000000:15000,1000000-:22500`` -> brackets."""
    brackets = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            bounds, amount = part.split(":")
            lower, upper = bounds.split("-")
            brackets.append((int(lower.strip()), int(upper) if upper.strip() else None,
                             amount.strip()))
        except ValueError:
            raise BillingError(f"Strate « {part[:40]} » illisible : écrivez min-max:montant, "
                               "par exemple 0-500000:7500 (max vide pour la dernière).",
                               field="brackets") from None
    return brackets


def change_deadline(year: int) -> datetime.date:
    """Last day to request a change that takes effect on 1 January of ``year`` + 1: the
    convention's "at least N months before the end of the year" (30 September for 3)."""
    month = 12 - settings.OPSN_SUBSCRIPTION_NOTICE_MONTHS
    return datetime.date(year, month + 1, 1) - datetime.timedelta(days=1)


def _schedule(requested_on: datetime.date) -> tuple[datetime.date, datetime.date, bool]:
    """(deadline, effective day, late) of a request received on ``requested_on``."""
    deadline = change_deadline(requested_on.year)
    late = requested_on > deadline
    return deadline, datetime.date(requested_on.year + (2 if late else 1), 1, 1), late


def _check_change(commune: Commune, action: str, module: str | None,
                  effective: datetime.date) -> None:
    """Refuse a change that makes no sense on ``effective`` (before anything is written)."""
    if action not in SubscriptionRequest.Action.values:
        raise BillingError(f"Demande inconnue : « {str(action)[:40]} ».", field="action")
    if action != SubscriptionRequest.Action.LEAVE and (
            not module or not Module.objects.filter(code=module, is_active=True).exists()):
        raise BillingError(f"Application inconnue : « {str(module)[:40]} ».", field="module")
    subs = CommuneModule.objects.filter(commune=commune).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gt=effective))
    if action == SubscriptionRequest.Action.ADD:
        if subs.filter(module_id=module).exists():
            raise BillingError(f"{commune.name} est déjà abonnée à « {module} ».",
                               field="module")
    else:
        ending = subs.filter(module_id=module) if action == "remove" else subs
        if not ending.exists():
            raise BillingError(f"{commune.name} n'a pas d'abonnement en cours à retirer.",
                               field="module")


def _apply(commune: Commune, action: str, module: str | None,
           effective: datetime.date) -> None:
    """The commune's modules change on ``effective``: billing follows (compute_year reads
    the subscriptions by their dates)."""
    _check_change(commune, action, module, effective)
    subs = CommuneModule.objects.filter(commune=commune).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gt=effective))
    if action == SubscriptionRequest.Action.ADD:
        assert module is not None  # checked above
        CommuneModule.objects.create(commune=commune, module_id=module, starts_on=effective)
    else:
        ending = subs.filter(module_id=module) if action == "remove" else subs
        ending.filter(starts_on__gte=effective).delete()  # never started: nothing to bill
        ending.filter(starts_on__lt=effective).update(ends_on=effective)


@transaction.atomic
def subscription_request(*, commune: Commune, action: str, module: str | None = None,
                         requested_on: datetime.date | None = None,
                         accept_late: bool = False, by: str = "") -> SubscriptionRequest:
    """Record a commune's request typed by the operator, accepted at once, and schedule its
    effect under the convention's calendar."""
    requested_on = requested_on or timezone.localdate()
    deadline, effective, late = _schedule(requested_on)
    if action not in SubscriptionRequest.Action.values:
        raise BillingError(f"Demande inconnue : « {str(action)[:40]} ».", field="action")
    label = SubscriptionRequest.Action(action).label
    if late and not accept_late:
        raise BillingError(
            f"Demande de {label} reçue le {requested_on:%d/%m/%Y}, après la date limite du "
            f"{deadline:%d/%m/%Y} : elle ne peut pas prendre effet au 1er janvier "
            f"{requested_on.year + 1}. Elle peut être acceptée pour le 1er janvier "
            f"{effective.year}.")
    _apply(commune, action, module, effective)
    request = SubscriptionRequest.objects.create(
        commune=commune, module_id=module, action=action, requested_on=requested_on,
        deadline=deadline, effective_on=effective, late=late,
        status=SubscriptionRequest.Status.ACCEPTED, decided_at=timezone.now(),
        decided_by=by or "command line")
    billing_event(code="subscription.accepted", actor=by or "command line",
                  insee_code=commune.insee_code,
                  summary=f"{label.capitalize()} pour {commune.name}"
                          f"{f' ({module})' if module else ''}, effet le "
                          f"{effective:%d/%m/%Y}")
    return request


def _clean_note(value: str | None, *, field: str, label: str, required: bool) -> str:
    text = " ".join((value or "").split())
    if required and not text:
        raise BillingError(f"Donnez {label}.", field=field)
    if len(text) > 500 or any(not ch.isprintable() for ch in text):
        raise BillingError(f"{label[0].upper()}{label[1:]} : 500 caractères imprimables au "
                           "plus.", field=field)
    return text


def _operator_mail(subject: str, body: str) -> None:
    operator = settings.OPSN_OPERATOR
    transaction.on_commit(lambda: send_mail(
        subject=subject, message=body + f"\n\n{operator['name']}\n",
        from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[operator["email"]]))


@transaction.atomic
def subscription_ask(*, commune: Commune, action: str, module: str | None = None,
                     note: str = "", by: str = "",
                     today: datetime.date | None = None) -> SubscriptionRequest:
    """The commune asks, from its space, to add or remove an application or to leave: the
    request waits for the operator. It says when it would take effect under the
    convention's calendar, or that it is late (then the year after). The operator is told
    by e-mail, once."""
    today = today or timezone.localdate()
    module = module or None
    if action == SubscriptionRequest.Action.LEAVE:
        module = None
    note = _clean_note(note, field="note", label="le message", required=False)
    deadline, effective, late = _schedule(today)
    _check_change(commune, action, module, effective)
    pending = SubscriptionRequest.objects.select_for_update().filter(
        commune=commune, status=SubscriptionRequest.Status.PENDING, action=action,
        module_id=module)
    if pending.exists():
        raise BillingError("Cette demande attend déjà la réponse de l'opérateur.",
                           field="module" if module else "action")
    request = SubscriptionRequest.objects.create(
        commune=commune, module_id=module, action=action, requested_on=today,
        deadline=deadline, effective_on=effective, late=late,
        status=SubscriptionRequest.Status.PENDING, requested_by=by, note=note)
    what = request.describe()
    billing_event(code="subscription.asked", actor=by, insee_code=commune.insee_code,
                  summary=f"{commune.name} demande : {what}", request=request.pk)
    with inside(commune):
        record(Actor(account=by or "-", name=by or "-"),
               SubscriptionAsked(target=f"subscription:{request.pk}", data={"what": what}))
    _operator_mail(f"Demande de {commune.name} : {what}",
                   f"Bonjour,\n\n{commune.name} ({commune.insee_code}) demande : {what}.\n"
                   f"Demandé par {by or 'la commune'} le {today:%d/%m/%Y}"
                   f"{f' — « {note} »' if note else ''}.\n"
                   "Acceptez-la ou refusez-la dans la console, rubrique Facturation → "
                   "Demandes des communes.")
    return request


@transaction.atomic
def subscription_decide(*, request: SubscriptionRequest, accept: bool, message: str = "",
                        by: str = "") -> SubscriptionRequest:
    """The operator accepts (the commune's modules change on the day said, billing
    follows) or refuses (a message is required) a pending request. The commune's
    administrators are told by e-mail, once."""
    request = SubscriptionRequest.objects.select_for_update(of=("self",)).select_related(
        "commune", "module").get(pk=request.pk)
    if request.status != SubscriptionRequest.Status.PENDING:
        raise BillingError(f"Cette demande est déjà {request.get_status_display()}.")
    message = _clean_note(message, field="message", label="le motif du refus",
                          required=not accept)
    if accept:
        _apply(request.commune, request.action, request.module_id, request.effective_on)
    request.status = (SubscriptionRequest.Status.ACCEPTED if accept
                      else SubscriptionRequest.Status.REFUSED)
    request.decided_at = timezone.now()
    request.decided_by = by
    request.decision_message = message
    request.save(update_fields=["status", "decided_at", "decided_by", "decision_message"])
    what = request.describe()
    billing_event(code=f"subscription.{request.status}", actor=by,
                  insee_code=request.commune.insee_code,
                  summary=f"Demande de {request.commune.name} {request.get_status_display()} : "
                          f"{what}{f' — {message}' if message else ''}", request=request.pk)
    commune, status = request.commune, request.get_status_display()
    with inside(commune):
        record(Actor(account=by or "-", name=by or "-", kind="system"),
               SubscriptionDecided(target=f"subscription:{request.pk}", data={
                   "status": status, "what": what,
                   "message": f" — {message}" if message else ""}))
    body = (f"Bonjour,\n\nVotre demande ({what}) est {status} par "
            f"{settings.OPSN_OPERATOR['short_name']}."
            + (f"\nMessage : {message}" if message else "")
            + (f"\nElle prend effet le {request.effective_on:%d/%m/%Y}." if accept else "")
            + f"\n\n{settings.OPSN_OPERATOR['name']}\n")
    transaction.on_commit(lambda: _tell_commune(commune, f"Votre demande est {status}", body))
    return request


def _tell_commune(commune: Commune, subject: str, body: str) -> None:
    recipients = _administrators(commune)
    if recipients:
        send_mail(subject=subject, message=body, from_email=settings.DEFAULT_FROM_EMAIL,
                  recipient_list=recipients)


def _administrators(commune: Commune) -> list[str]:
    with inside(commune):
        return list(AgentRole.objects.filter(role=Role.ADMINISTRATOR)
                    .values_list("account", flat=True).distinct())


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
    what = found.name if found else "toutes les applications"
    billing_event(code="discount.set", actor=by or "command line",
                  insee_code=commune.insee_code,
                  summary=f"Remise {year} de {percent} % pour {commune.name} ({what}) : {reason}",
                  year=year, module=module or None, percent=str(percent), reason=reason)
    logger.info("discount %s%% for %s (%s, %s) set by %s: %s", percent, commune.insee_code,
                year, module or "all", by or "-", reason)
    return discount


@transaction.atomic
def discount_remove(*, discount: Discount, by: str = "") -> None:
    _year_open(discount.year)
    what = discount.module.name if discount.module else "toutes les applications"
    billing_event(code="discount.removed", actor=by or "command line",
                  insee_code=discount.commune.insee_code,
                  summary=f"Remise {discount.year} de {discount.percent} % pour "
                          f"{discount.commune.name} ({what}) retirée",
                  year=discount.year, module=discount.module_id, percent=str(discount.percent))
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
    billing_event(code="service.added", actor=by or "command line",
                  insee_code=commune.insee_code,
                  summary=f"Prestation {year} pour {commune.name} : {label}, {amount} € HT, "
                          f"TVA {rate} %",
                  year=year, label=label, amount_excl_vat=str(amount), vat_rate=str(rate))
    logger.info("service %s (%s € HT, TVA %s %%) for %s (%s) added by %s", label, amount,
                rate, commune.insee_code, year, by or "-")
    return charge


@transaction.atomic
def service_charge_remove(*, charge: ServiceCharge, by: str = "") -> None:
    _year_open(charge.year)
    billing_event(code="service.removed", actor=by or "command line",
                  insee_code=charge.commune.insee_code,
                  summary=f"Prestation {charge.year} pour {charge.commune.name} retirée : "
                          f"{charge.label}, {charge.amount_excl_vat} € HT",
                  year=charge.year, label=charge.label,
                  amount_excl_vat=str(charge.amount_excl_vat))
    logger.info("service %s for %s (%s) removed by %s", charge.label,
                charge.commune.insee_code, charge.year, by or "-")
    charge.delete()
