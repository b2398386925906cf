"""The convention between the operator and a commune, as a thing: its number, its term,
its amendments (avenants) and the mentions its titres must carry. Every change goes
through here (console, API) and is written in the billing trail; a titre copies the
mentions of the convention in force for its year when it is issued."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Q

from opsn.billing.computation import BillingError
from opsn.billing.models import (
    Convention,
    ConventionAmendment,
    ConventionCost,
    Invoice,
    billing_event,
)
from opsn.communes.models import Commune, Module
from opsn.kernel import money


def _text(value: str | None, *, field: str, label: str, max_length: int,
          required: bool = True) -> str:
    text = " ".join((value or "").split())
    if required and not text:
        raise BillingError(f"Donnez {label}.", field=field)
    if len(text) > max_length or any(not ch.isprintable() for ch in text):
        raise BillingError(f"{label[0].upper()}{label[1:]} : {max_length} caractères "
                           "imprimables au plus.", field=field)
    return text


def _day(value: datetime.date | str | None, *, field: str, label: str) -> datetime.date:
    if isinstance(value, datetime.date):
        day = value
    else:
        text = (value or "").strip()
        if not text:
            raise BillingError(f"Donnez {label}.", field=field)
        for layout in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                day = datetime.datetime.strptime(text, layout).date()
                break
            except ValueError:
                continue
        else:
            raise BillingError(f"« {text[:20]} » n'est pas une date (JJ/MM/AAAA).", field=field)
    if not 2000 <= day.year <= 2100:
        raise BillingError(f"Le {day:%d/%m/%Y} est hors des années de facturation (2000 à "
                           "2100).", field=field)
    return day


def _checked(*, commune: Commune, number, starts_on, ends_on, mentions,
             exclude: int | None = None) -> dict:
    number = _text(number, field="number", label="le numéro de la convention", max_length=50)
    start = _day(starts_on, field="starts_on", label="le début de la convention")
    end = _day(ends_on, field="ends_on", label="la fin de la convention")
    if end < start:
        raise BillingError(f"La convention finit le {end:%d/%m/%Y}, avant de commencer le "
                           f"{start:%d/%m/%Y}.", field="ends_on")
    mentions = _text(mentions, field="mentions", label="les mentions des titres",
                     max_length=1000, required=False)
    others = Convention.objects.select_for_update().filter(commune=commune)
    if exclude is not None:
        others = others.exclude(pk=exclude)
    overlap = others.filter(starts_on__lte=end, ends_on__gte=start).first()
    if overlap is not None:
        raise BillingError(f"{commune.name} a déjà la convention n° {overlap.number} du "
                           f"{overlap.starts_on:%d/%m/%Y} au {overlap.ends_on:%d/%m/%Y} : "
                           "deux conventions ne se chevauchent pas.", field="starts_on")
    if Convention.objects.filter(number=number).filter(~Q(commune=commune)).exists():
        raise BillingError(f"Le numéro « {number} » est déjà celui de la convention d'une "
                           "autre commune.", field="number")
    return {"number": number, "starts_on": start, "ends_on": end, "mentions": mentions}


@transaction.atomic
def convention_set(*, commune: Commune, number: str, starts_on, ends_on, mentions: str = "",
                   convention: Convention | None = None, by: str = "") -> Convention:
    """A new convention for ``commune`` (or ``convention`` changed): refused when the term
    is out of order or overlaps another convention of the commune."""
    values = _checked(commune=commune, number=number, starts_on=starts_on, ends_on=ends_on,
                      mentions=mentions, exclude=convention.pk if convention else None)
    if convention is None:
        convention = Convention.objects.create(commune=commune, **values)
        code, what = "convention.created", "enregistrée"
    else:
        for name, value in values.items():
            setattr(convention, name, value)
        convention.save()
        code, what = "convention.changed", "modifiée"
    billing_event(code=code, actor=by, insee_code=commune.insee_code,
                  summary=f"Convention n° {convention.number} de {commune.name} ({what}) : "
                          f"du {convention.starts_on:%d/%m/%Y} au "
                          f"{convention.ends_on:%d/%m/%Y}",
                  number=values["number"], starts_on=str(values["starts_on"]),
                  ends_on=str(values["ends_on"]), mentions=values["mentions"])
    return convention


@transaction.atomic
def amendment_add(*, convention: Convention, signed_on, subject: str,
                  by: str = "") -> ConventionAmendment:
    """An avenant: its date and its object, numbered 1, 2… within the convention."""
    convention = Convention.objects.select_for_update().get(pk=convention.pk)
    day = _day(signed_on, field="signed_on", label="la date de l'avenant")
    subject = _text(subject, field="subject", label="l'objet de l'avenant", max_length=500)
    if day > convention.ends_on:
        raise BillingError(f"Le {day:%d/%m/%Y} est après la fin de la convention (le "
                           f"{convention.ends_on:%d/%m/%Y}) : un avenant modifie une "
                           "convention en cours.", field="signed_on")
    number = convention.amendments.count() + 1
    amendment = ConventionAmendment.objects.create(convention=convention, number=number,
                                                   signed_on=day, subject=subject)
    billing_event(code="convention.amended", actor=by, insee_code=convention.commune.insee_code,
                  summary=f"Avenant n° {number} du {day:%d/%m/%Y} à la convention n° "
                          f"{convention.number} : {subject[:300]}",
                  convention=convention.number, signed_on=day.isoformat(), subject=subject)
    return amendment


@transaction.atomic
def convention_cost_set(*, convention: Convention, module: str, yearly_cost,
                        amendment: int | str | ConventionAmendment | None = None,
                        by: str = "") -> ConventionCost:
    """The yearly cost the convention fixes for ``module``: from its start, or (with
    ``amendment``, the avenant's number) from the billing year of the avenant's date.
    Billing then uses it for the commune instead of the pricing rule, for every year of the
    convention's term. Refused for a year already issued (a titre is corrected by a credit
    note), twice for the same avenant, or for an application the commune does not have."""
    convention = Convention.objects.select_for_update().select_related("commune").get(
        pk=convention.pk)
    module = (module or "").strip()
    found = Module.objects.filter(code=module, is_active=True).first()
    if found is None:
        raise BillingError(f"Application inconnue : « {module[:40]} ».", field="module")
    cost = money.parse_amount(yearly_cost, field="yearly_cost", what="Coût annuel",
                              allow_zero=True, error=BillingError)
    avenant = None
    if amendment is not None and amendment != "":
        number = amendment.number if isinstance(amendment, ConventionAmendment) else amendment
        try:
            avenant = convention.amendments.get(number=int(number))
        except (ValueError, TypeError, ConventionAmendment.DoesNotExist):
            raise BillingError(f"La convention n° {convention.number} n'a pas d'avenant n° "
                               f"« {str(number)[:10]} ».", field="amendment") from None
    applies_from = max(avenant.signed_on, convention.starts_on) if avenant else (
        convention.starts_on)
    if ConventionCost.objects.filter(convention=convention, module=found,
                                     amendment=avenant).exists():
        what = f"l'avenant n° {avenant.number}" if avenant else "la convention"
        raise BillingError(f"{what[0].upper()}{what[1:]} fixe déjà le coût de {found.name} : "
                           "un avenant le change.", field="module")
    issued = Invoice.objects.filter(insee_code=convention.commune.insee_code,
                                    kind=Invoice.Kind.INVOICE, year__gte=applies_from.year,
                                    year__lte=convention.ends_on.year).order_by("year").first()
    if issued is not None:
        raise BillingError(f"Les contributions {issued.year} de {convention.commune.name} sont "
                           "déjà émises : un coût fixé ne les change plus (corrigez le titre "
                           "par un avoir, ou datez l'avenant de l'année suivante).",
                           field="amendment" if avenant else "yearly_cost")
    row = ConventionCost.objects.create(convention=convention, module=found, yearly_cost=cost,
                                        amendment=avenant, applies_from=applies_from)
    since = f", avenant n° {avenant.number}" if avenant else ""
    billing_event(code="convention.cost", actor=by or "command line",
                  insee_code=convention.commune.insee_code,
                  summary=f"Convention n° {convention.number}{since} : {found.name} "
                          f"{cost} € par an dès {applies_from.year}",
                  convention=convention.number, module=found.code, yearly_cost=str(cost),
                  amendment=avenant.number if avenant else None,
                  applies_from=applies_from.isoformat())
    return row


def convention_for(commune: Commune | None, year: int) -> Convention | None:
    """The commune's convention in force during ``year`` (the latest to start)."""
    if commune is None:
        return None
    return (Convention.objects.filter(commune=commune, starts_on__lte=datetime.date(year, 12, 31),
                                      ends_on__gte=datetime.date(year, 1, 1))
            .prefetch_related("amendments").order_by("-starts_on").first())


def titre_mentions(convention: Convention | None) -> str:
    """What the titre prints of its convention: number, term, amendments, then the
    mentions the convention requires."""
    if convention is None:
        return ""
    parts = [f"Convention n° {convention.number} du {convention.starts_on:%d/%m/%Y} au "
             f"{convention.ends_on:%d/%m/%Y}"]
    amendments = list(convention.amendments.all())
    if amendments:
        parts[0] += ", " + ", ".join(f"avenant n° {a.number} du {a.signed_on:%d/%m/%Y}"
                                     for a in amendments)
    text = parts[0] + "."
    if convention.mentions:
        text += " " + convention.mentions
    return text[:1500]
