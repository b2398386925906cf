"""Issuing the year's invoices and moving them through their life: sent, contested,
corrected (credit note + new invoice), paid. Each function is one transaction."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone

from opsn.agents.models import AgentRole, Role
from opsn.billing.computation import BillingError, Line, compute_year, vat_breakdown
from opsn.billing.conventions import convention_for, titre_mentions
from opsn.billing.documents import ensure_document
from opsn.billing.models import (
    BillingRun,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    ServiceCharge,
    billing_event,
    contest_deadline,
)
from opsn.billing.services import parse_amount
from opsn.communes.models import Commune, Module
from opsn.kernel.metrics import BILLING_RUN
from opsn.kernel.money import euros, from_cents
from opsn.kernel.tenancy import inside


def _set_totals(invoice: Invoice, lines) -> None:
    breakdown = vat_breakdown(lines)
    invoice.total_excl_vat = sum((b for b, _ in breakdown.values()), Decimal("0.00"))
    invoice.vat_total = sum((v for _, v in breakdown.values()), Decimal("0.00"))
    invoice.total = invoice.total_excl_vat + invoice.vat_total


def _numbers(year: int, count: int) -> list[str]:
    """Take ``count`` consecutive numbers; the sequence row stays locked until commit."""
    sequence, _ = InvoiceSequence.objects.get_or_create(year=year)
    sequence = InvoiceSequence.objects.select_for_update().get(pk=sequence.pk)
    first = sequence.last_number + 1
    sequence.last_number += count
    sequence.save(update_fields=["last_number"])
    return [f"{year}-{n:06d}" for n in range(first, first + count)]


def _routing(commune: Commune) -> dict[str, str]:
    """How Chorus Pro routes the commune's titre, as the registry says today."""
    return {"commune_siren": commune.siren, "commune_siret": commune.billing_siret,
            "service_code": commune.service_code,
            "engagement_number": commune.engagement_number}


def _check_routing(communes) -> None:
    """Refuse the run before any number is taken when Chorus Pro would reject its titres:
    the operator's VAT number missing (EN 16931 BR-E-02, BR-S-02), or a commune that
    requires a service code or an engagement number without one."""
    if not settings.OPSN_OPERATOR.get("vat_number"):
        raise BillingError("Le numéro de TVA intracommunautaire de l'opérateur manque "
                           "(OPSN_OPERATOR_VAT_NUMBER) : Chorus Pro refuserait les titres.")
    missing = sorted(
        f"{c.name} ({c.insee_code}) : "
        + " et ".join(label for required, value, label in (
            (c.service_code_required, c.service_code, "code service"),
            (c.engagement_number_required, c.engagement_number, "numéro d'engagement"))
            if required and not value)
        for c in communes
        if (c.service_code_required and not c.service_code)
        or (c.engagement_number_required and not c.engagement_number))
    if missing:
        raise BillingError("Rien n'a été émis : ces communes exigent dans Chorus Pro une "
                           "référence qui manque à leur fiche — " + " ; ".join(missing) + ".")


@dataclass(frozen=True)
class IssuePlan:
    """What issuing ``year`` would do, said before it is done: one titre per commune."""

    year: int
    titres: list[tuple[str, str, Decimal]]  # INSEE code, commune, total TTC
    total: Decimal

    @property
    def token(self) -> str:
        """What the confirmation carries: issuing refuses when it no longer matches."""
        return f"{self.year}:{len(self.titres)}:{self.total}"


def issue_plan(*, year: int) -> IssuePlan:
    """The titres issuing ``year`` would write (same lines, same totals), nothing written."""
    if BillingRun.objects.filter(year=year).exists():
        raise BillingError(f"Les contributions {year} ont déjà été émises : rien à émettre.")
    lines = _titre_lines(year)
    names = dict(Commune.objects.filter(insee_code__in=lines).values_list("insee_code", "name"))
    titres = []
    for code in sorted(lines):
        probe = Invoice()
        _set_totals(probe, lines[code])
        titres.append((code, names.get(code, code), probe.total))
    return IssuePlan(year=year, titres=titres,
                     total=sum((t for _, _, t in titres), Decimal("0.00")))


def billing_issue(*, year: int) -> BillingRun:
    """Issue one invoice per commune for ``year``: all of them, or none."""

    with BILLING_RUN.time():
        return _issue(year)


def _titre_lines(year: int) -> dict[str, list[InvoiceLine]]:
    """The lines of each commune's titre for ``year`` (not saved): what issuing writes and
    what its confirmation announces."""
    preview = compute_year(year)
    by_commune: dict[str, list[Line]] = defaultdict(list)
    for line in preview.lines:
        by_commune[line.insee_code].append(line)
    charges: dict[str, list[ServiceCharge]] = defaultdict(list)
    for charge in ServiceCharge.objects.filter(year=year).select_related("commune"):
        charges[charge.commune.insee_code].append(charge)
        by_commune.setdefault(charge.commune.insee_code, [])
    if not by_commune:
        raise BillingError(f"Aucune commune abonnée en {year} : rien à émettre.")
    modules = dict(Module.objects.values_list("code", "name"))
    lines: dict[str, list[InvoiceLine]] = {}
    for code in sorted(by_commune):
        contributions = [
            InvoiceLine(position=i, module_id=line.module,
                        label=f"Contribution {year} — {modules.get(line.module, line.module)}",
                        rule_kind=line.rule_kind, population=line.population,
                        population_label=line.population_label, explanation=line.explanation,
                        amount_before_discount=from_cents(line.base_cents),
                        discount_percent=line.discount_percent, amount=line.amount)
            for i, line in enumerate(sorted(by_commune[code], key=lambda item: item.module),
                                     start=1)]
        services = [
            InvoiceLine(position=len(contributions) + i, module_id=None, label=charge.label,
                        rule_kind="service", explanation=f"prestation, TVA {charge.vat_rate} %",
                        amount_before_discount=charge.amount_excl_vat,
                        amount=charge.amount_excl_vat, vat_rate=charge.vat_rate)
            for i, charge in enumerate(charges.get(code, []), start=1)]
        lines[code] = contributions + services
    return lines


@transaction.atomic
def _issue(year: int) -> BillingRun:
    if BillingRun.objects.filter(year=year).exists():
        run = BillingRun.objects.get(year=year)
        raise BillingError(f"Les contributions {year} ont déjà été émises le "
                           f"{timezone.localtime(run.issued_at):%d/%m/%Y à %H:%M} "
                           f"({run.invoices} titres) : rien n'a été émis une seconde fois.")
    lines = _titre_lines(year)
    try:
        with transaction.atomic():
            run = BillingRun.objects.create(year=year)
    except IntegrityError:  # another run for the same year committed meanwhile
        raise BillingError(f"Les contributions {year} viennent d'être émises par une autre "
                           "opération.") from None
    communes = {c.insee_code: c for c in Commune.objects.filter(insee_code__in=lines)}
    _check_routing(communes.values())
    now = timezone.now()
    codes = sorted(lines)
    invoices = []
    for code, number in zip(codes, _numbers(year, len(codes)), strict=True):
        convention = convention_for(communes[code], year)
        invoice = Invoice(number=number, year=year, run=run, commune=communes.get(code),
                          insee_code=code, commune_name=communes[code].name,
                          issued_at=now, **_routing(communes[code]),
                          convention_number=convention.number if convention else "",
                          convention_mentions=titre_mentions(convention))
        _set_totals(invoice, lines[code])
        invoices.append(invoice)
    Invoice.objects.bulk_create(invoices, batch_size=5000)
    for invoice in invoices:
        for invoice_line in lines[invoice.insee_code]:
            invoice_line.invoice = invoice
    InvoiceLine.objects.bulk_create([line for code in codes for line in lines[code]],
                                    batch_size=10_000)
    run.invoices = len(invoices)
    run.total = sum((i.total for i in invoices), Decimal("0.00"))
    run.save(update_fields=["invoices", "total"])
    return run


def _locked(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice.pk)


def sent_at_of(day: datetime.date | str | None) -> datetime.datetime:
    """When a titre was handed to Chorus Pro, from the day the operator gives (« le
    JJ/MM/AAAA » or ISO): now when it is today or not given, noon that day otherwise."""
    if day is None or day == "":
        return timezone.now()
    if isinstance(day, str):
        text = day.strip()
        for layout in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                day = datetime.datetime.strptime(text, layout).date()
                break
            except ValueError:
                continue
        else:
            raise BillingError(f"« {text[:20]} » n'est pas une date (JJ/MM/AAAA).",
                               field="sent_on")
    assert isinstance(day, datetime.date)
    if day == timezone.localdate():
        return timezone.now()
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


@transaction.atomic
def invoice_send(*, invoice: Invoice, when: datetime.datetime | None = None,
                 by: str = "") -> Invoice:
    """« Transmis à Chorus Pro » on ``when`` (now by default): neither in the future nor
    before the titre's year began. The payment and contest deadlines run from it."""
    invoice = _locked(invoice)
    if invoice.status != Invoice.Status.ISSUED:
        raise BillingError(f"Le titre {invoice.number} est {invoice.get_status_display()} : "
                           "seul un titre émis peut être transmis.")
    when = when or timezone.now()
    day = timezone.localtime(when).date()
    if day > timezone.localdate():
        raise BillingError(f"Le {day:%d/%m/%Y} est dans le futur : donnez le jour où le titre "
                           "a été déposé sur Chorus Pro.", field="sent_on")
    if day.year < invoice.year:
        raise BillingError(f"Le {day:%d/%m/%Y} précède l'exercice {invoice.year} du titre "
                           f"{invoice.number} : il n'a pas pu être transmis avant.",
                           field="sent_on")
    invoice.sent_at = when
    invoice.due_on = (timezone.localtime(invoice.sent_at).date()
                      + datetime.timedelta(days=settings.OPSN_INVOICE_PAYMENT_DAYS))
    invoice.status = Invoice.Status.SENT
    invoice.save(update_fields=["sent_at", "due_on", "status"])
    billing_event(code="invoice.sent", actor=by, invoice=invoice,
                  summary=f"Titre {invoice.number} marqué transmis à Chorus Pro le "
                          f"{day:%d/%m/%Y}", sent_on=day.isoformat())
    transaction.on_commit(lambda: _mail_invoice(invoice.pk))
    return invoice


def _administrators(commune: Commune) -> list[str]:
    """E-mail addresses of the commune's administrators (roles live in its schema)."""

    with inside(commune):
        return list(AgentRole.objects.filter(role__in=[Role.ADMINISTRATOR, Role.FINANCE])
                    .values_list("account", flat=True).distinct())


def _mail_invoice(invoice_id: int) -> None:
    invoice = Invoice.objects.select_related("commune").get(pk=invoice_id)
    if invoice.commune is None:
        return
    recipients = _administrators(invoice.commune)
    if not recipients:
        return
    operator = settings.OPSN_OPERATOR
    message = EmailMessage(
        subject=f"{invoice.get_kind_display().capitalize()} {invoice.number} — "
                f"{operator['short_name']}",
        body=(f"Bonjour,\n\nVeuillez trouver ci-joint le {invoice.get_kind_display()} "
              f"n° {invoice.number} de {euros(invoice.total)} ({invoice.year}), "
              f"à régler avant le "
              f"{invoice.due_on:%d/%m/%Y}. Il est aussi transmis par Chorus Pro.\n"
              f"Vous pouvez le contester jusqu'au {contest_deadline(invoice):%d/%m/%Y} depuis "
              f"l'espace de la commune, rubrique « Titres de l'opérateur ».\n\n"
              f"{operator['name']}\n"),
        from_email=settings.DEFAULT_FROM_EMAIL, to=recipients)
    message.attach_file(str(ensure_document(invoice)), "application/pdf")
    message.send()


@transaction.atomic
def invoice_contest(*, invoice: Invoice, reason: str,
                    today: datetime.date | None = None, by: str = "") -> Invoice:
    """The commune contests within the deadline (8 jours francs after receipt by default,
    ``contest_deadline``)."""
    invoice = _locked(invoice)
    reason = (reason or "").strip()
    if not reason:
        raise BillingError("Donnez le motif de la contestation.")
    if invoice.status != Invoice.Status.SENT:
        raise BillingError(f"Le titre {invoice.number} est {invoice.get_status_display()} : "
                           "seul un titre transmis peut être contesté.")
    today = today or timezone.localdate()
    deadline = contest_deadline(invoice)
    if deadline is None or today > deadline:
        raise BillingError(f"Le délai de contestation du titre {invoice.number} a expiré le "
                           f"{deadline:%d/%m/%Y} ({settings.OPSN_INVOICE_CONTEST_DAYS} "
                           "jours francs après sa réception).")
    invoice.status = Invoice.Status.CONTESTED
    invoice.contested_at = timezone.now()
    invoice.contest_reason = reason[:2000]
    invoice.save(update_fields=["status", "contested_at", "contest_reason"])
    billing_event(code="invoice.contested", actor=by, invoice=invoice,
                  summary=f"Titre {invoice.number} contesté par {invoice.commune_name} : "
                          f"{invoice.contest_reason[:300]}")
    return invoice


def clean_correction_reason(value: str | None) -> str:
    reason = " ".join((value or "").split())
    if not reason:
        raise BillingError("Donnez le motif de la correction (il figure sur l'avoir et sur le "
                           "nouveau titre).", field="reason")
    if len(reason) > 500 or any(not ch.isprintable() for ch in reason):
        raise BillingError("Le motif : 500 caractères imprimables au plus.", field="reason")
    return reason


CorrectionLine = tuple[str | None, str, str | Decimal] | tuple[str | None, str, str | Decimal,
                                                              str | Decimal]


def _correction_lines(lines: list[CorrectionLine]) -> list[tuple[str | None, str, Decimal,
                                                                  Decimal]]:
    """(module, label, amount, VAT rate) of each line of the replacement titre, checked."""
    if not lines:
        raise BillingError("Le nouveau titre a besoin d'au moins une ligne.", field="lines")
    if len(lines) > 50:
        raise BillingError("Le nouveau titre : 50 lignes au plus.", field="lines")
    known = set(Module.objects.values_list("code", flat=True))
    checked = []
    for n, line in enumerate(lines, start=1):
        module, label, amount = line[0] or None, " ".join((line[1] or "").split()), line[2]
        rate = line[3] if len(line) > 3 else "0"
        if not label or len(label) > 200 or any(not ch.isprintable() for ch in label):
            raise BillingError(f"Ligne {n} : donnez son intitulé (200 caractères au plus).",
                               field="lines")
        if module is not None and module not in known:
            raise BillingError(f"Ligne {n} : application inconnue « {str(module)[:40]} ».",
                               field="lines")
        value = parse_amount(amount, f"Ligne {n}, montant")
        vat = parse_amount(rate if rate not in (None, "") else "0", f"Ligne {n}, taux de TVA")
        if vat >= 100:
            raise BillingError(f"Ligne {n} : {vat} % n'est pas un taux de TVA (moins de "
                               "100 %).", field="lines")
        checked.append((module, label, value, vat))
    return checked


@transaction.atomic
def invoice_correct(*, invoice: Invoice, lines: list[CorrectionLine], reason: str,
                    by: str = "") -> tuple[Invoice, Invoice]:
    """Cancel ``invoice`` by a credit note and issue a new invoice with ``lines``
    [(module code or None, label, amount excl. VAT[, VAT rate])], for ``reason``. Never an
    edit: the titre keeps what it said, marked « annulé et remplacé »."""

    invoice = _locked(invoice)
    if invoice.kind != Invoice.Kind.INVOICE or invoice.status in (Invoice.Status.CORRECTED,
                                                                 Invoice.Status.PAID):
        raise BillingError(f"Le titre {invoice.number} ({invoice.get_status_display()}) ne peut "
                           "pas être corrigé.")
    reason = clean_correction_reason(reason)
    amounts = _correction_lines(lines)
    credit_number, new_number = _numbers(invoice.year, 2)
    now = timezone.now()
    common = {"year": invoice.year, "commune": invoice.commune, "insee_code": invoice.insee_code,
              "commune_name": invoice.commune_name, "commune_siren": invoice.commune_siren,
              "commune_siret": invoice.commune_siret, "service_code": invoice.service_code,
              "engagement_number": invoice.engagement_number,
              "convention_number": invoice.convention_number,
              "convention_mentions": invoice.convention_mentions,
              "issued_at": now, "corrects": invoice, "correction_reason": reason}
    credit = Invoice.objects.create(
        number=credit_number, kind=Invoice.Kind.CREDIT_NOTE, total=-invoice.total,
        total_excl_vat=-invoice.total_excl_vat, vat_total=-invoice.vat_total, **common)
    InvoiceLine.objects.bulk_create([
        InvoiceLine(invoice=credit, position=line.position, module_id=line.module_id,
                    label=f"Annulation — {line.label}", rule_kind=line.rule_kind,
                    population=line.population, population_label=line.population_label,
                    explanation=f"annule la ligne {line.position} du titre {invoice.number}",
                    amount_before_discount=-line.amount_before_discount,
                    discount_percent=line.discount_percent, amount=-line.amount,
                    vat_rate=line.vat_rate)
        for line in invoice.lines.all()])
    new_lines = [
        InvoiceLine(position=i, module_id=module, label=label, rule_kind="correction",
                    explanation=f"remplace le titre {invoice.number}",
                    amount_before_discount=amount, amount=amount, vat_rate=vat)
        for i, (module, label, amount, vat) in enumerate(amounts, start=1)]
    replacement = Invoice(number=new_number, **common)
    _set_totals(replacement, new_lines)
    replacement.save()
    for line in new_lines:
        line.invoice = replacement
    InvoiceLine.objects.bulk_create(new_lines)
    invoice.status = Invoice.Status.CORRECTED
    invoice.save(update_fields=["status"])
    billing_event(code="invoice.corrected", actor=by, invoice=invoice,
                  summary=f"Titre {invoice.number} annulé par l'avoir {credit.number} et "
                          f"remplacé par le titre {replacement.number} "
                          f"({euros(invoice.total)} → {euros(replacement.total)}) : {reason}",
                  reason=reason, credit_note=credit.number, replacement=replacement.number,
                  before=str(invoice.total), after=str(replacement.total))
    return credit, replacement


@transaction.atomic
def invoice_mark_paid(*, invoice: Invoice, by: str = "") -> Invoice:
    invoice = _locked(invoice)
    if invoice.status not in (Invoice.Status.SENT, Invoice.Status.ISSUED):
        raise BillingError(f"Le titre {invoice.number} est {invoice.get_status_display()} : "
                           "il ne peut pas être marqué payé.")
    invoice.status = Invoice.Status.PAID
    invoice.paid_at = timezone.now()
    invoice.save(update_fields=["status", "paid_at"])
    billing_event(code="invoice.paid", actor=by, invoice=invoice,
                  summary=f"Titre {invoice.number} marqué payé ({euros(invoice.total)})")
    return invoice
