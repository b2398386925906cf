"""The cash desk: the daily closing (arrêté de caisse) and the deposits to the public
accountant (versements), with their slips. Only the titulaire, or the suppléant standing
in, acts: the services refuse anyone else, and the buttons are not shown to them."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from opsn.accounts.auth import account_id, actor_of, commune_role_required
from opsn.finance.deposit_pes import deposit_pes
from opsn.finance.errors import FinanceError
from opsn.finance.regularisation import deposit_regularisation
from opsn.regie_pages.forms import ClosingForm
from opsn.regie_pages.views.common import (
    AGENT_ROLES,
    amount_input,
    attach,
    download,
    page,
    parse_day,
    regie_of,
    status_of,
)
from opsn.regies import permissions, selectors
from opsn.regies.counted import deposit_count, deposit_counts, pending_count
from opsn.regies.documents import deposit_slip_pdf
from opsn.regies.errors import RegieError
from opsn.regies.exports import (
    deposit_counted_csv,
    deposit_regularisation_csv,
    deposit_slip_csv,
)
from opsn.regies.models import ACCOUNT_MODES, DailyClosing, Deposit, PaymentMode, Regie
from opsn.regies.services.cashdesk import day_close, deposit_make

ZERO = Decimal("0.00")


def _modes_to_count(regie: Regie, expected: dict) -> list[str]:
    """Every mode the journal has that day, and cash (the drawer is counted even on a day
    without cash takings)."""
    return [m for m in PaymentMode.values
            if m in expected or (m == PaymentMode.CASH and m in regie.accepted_modes)]


@commune_role_required(*AGENT_ROLES)
@require_http_methods(["GET", "POST"])
def closing(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    today = timezone.localdate()
    day = min(parse_day(request.POST.get("day") or request.GET.get("jour"), today) or today,
              today)
    expected = selectors.day_totals(regie, day)
    modes = _modes_to_count(regie, expected)
    status = 200
    if request.method == "POST":
        form = ClosingForm(request.POST, modes=modes)
        if form.is_valid():
            data = form.cleaned_data
            # A mode without takings that day and left empty is not part of the closing.
            counted = {m: data[f"counted_{m}"] for m in modes
                       if m in expected or data[f"counted_{m}"].strip()}
            try:
                day_close(regie=regie, actor=actor_of(request), counted=counted,
                          reasons={m: data[f"reason_{m}"] for m in modes},
                          notes=data["notes"], day=data["day"])
            except RegieError as exc:
                attach(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, f"Journée du {day:%d/%m/%Y} arrêtée : elle ne prend "
                                          "plus rien du tiroir.")
                return redirect(f"{reverse('regie_pages:closing', args=[regie.number])}"
                                f"?jour={day:%Y-%m-%d}")
        else:
            status = 400
    else:
        form = ClosingForm(initial={"day": day}, modes=modes)
    rows = [{"mode": mode, "entries": expected.get(mode, (0, ZERO))[0],
             "expected": expected.get(mode, (0, ZERO))[1], "counted": counted_field,
             "reason": reason_field, "drawer": mode not in ACCOUNT_MODES}
            for mode, counted_field, reason_field in form.rows()]
    return page(request, "regie_pages/closing.html", {
        "form": form, "day": day, "rows": rows,
        "total": sum((total for _, total in expected.values()), ZERO),
        "done": DailyClosing.objects.filter(regie=regie, day=day).prefetch_related(
            "lines").first(),
        "history": [_summary(c) for c in DailyClosing.objects.filter(regie=regie)
                    .prefetch_related("lines")[:10]],
        "may_keep": permissions.may_keep(regie, account_id(request), today),
    }, status=status, regie=regie, section="closing")


def _summary(closing: DailyClosing) -> dict:
    lines = list(closing.lines.all())
    return {"closing": closing, "expected": sum((x.expected for x in lines), ZERO),
            "counted": sum((x.counted for x in lines), ZERO),
            "gaps": [x for x in lines if x.difference]}


@commune_role_required(*AGENT_ROLES)
@require_http_methods(["GET", "POST"])
def deposits(request: HttpRequest, number: str) -> HttpResponse:
    """What awaits deposit and what its slip will say was counted; the past deposits with
    the same figures as their slips."""
    regie = regie_of(request, number)
    error = ""
    status = 200
    if request.method == "POST":
        try:
            deposit = deposit_make(regie=regie, actor=actor_of(request))
        except RegieError as exc:
            error, status = exc.message, status_of(exc)
        else:
            messages.success(request, _deposited(deposit))
            return redirect("regie_pages:deposits", regie.number)
    past = list(Deposit.objects.filter(regie=regie).select_related("first_entry", "last_entry")
                .order_by("-made_at")[:50])
    counts = deposit_counts(past)
    pending = pending_count(regie)
    return page(request, "regie_pages/deposits.html", {
        "pending": pending if pending.entries else None,
        "in_hand": selectors.held_in_hand(regie), "warnings": selectors.warnings(regie),
        "past": [(deposit, counts[deposit.pk]) for deposit in past],
        "may_keep": permissions.may_keep(regie, account_id(request), timezone.localdate()),
        "error": error,
    }, status=status, regie=regie, section="deposits")


def _deposited(deposit: Deposit) -> str:
    """« Versement V2026-0001 enregistré : 170,00 € au comptable (journal 177,95 €,
    déficit de caisse 7,95 €). »"""
    count = deposit_count(deposit)
    said = f"Versement {deposit.slip} enregistré : {amount_input(count.paid)} € au comptable"
    if count.difference:
        return (f"{said} (journal {amount_input(count.journal)} €, {count.sense} de caisse "
                f"{amount_input(abs(count.difference))} €).")
    return f"{said}."


def _deposit(regie: Regie, year: int, number: int) -> Deposit:
    return get_object_or_404(Deposit.objects.select_related("regie", "first_entry",
                                                            "last_entry"),
                             regie=regie, year=year, number=number)


@commune_role_required(*AGENT_ROLES)
def deposit_slip(request: HttpRequest, number: str, year: int, slip: int) -> HttpResponse:
    """The bordereau de versement the accountant signs (PDF)."""
    regie = regie_of(request, number)
    deposit = _deposit(regie, year, slip)
    return download(deposit_slip_pdf(deposit), f"bordereau-{regie.number}-{deposit.slip}.pdf",
                    "application/pdf")


@commune_role_required(*AGENT_ROLES)
def deposit_counted(request: HttpRequest, number: str, year: int, slip: int) -> HttpResponse:
    """What the deposit says was counted, per mode and per closing day (CSV)."""
    regie = regie_of(request, number)
    deposit = _deposit(regie, year, slip)
    return download(deposit_counted_csv(deposit),
                    f"comptage-{regie.number}-{deposit.slip}.csv", "text/csv; charset=utf-8")


@commune_role_required(*AGENT_ROLES)
def deposit_slip_detail(request: HttpRequest, number: str, year: int,
                        slip: int) -> HttpResponse:
    """The slip's payments, one line each, for a spreadsheet (CSV)."""
    regie = regie_of(request, number)
    deposit = _deposit(regie, year, slip)
    return download(deposit_slip_csv(deposit), f"bordereau-{regie.number}-{deposit.slip}.csv",
                    "text/csv; charset=utf-8")


@commune_role_required(*AGENT_ROLES)
def deposit_pes_export(request: HttpRequest, number: str, year: int,
                       slip: int) -> HttpResponse:
    """The titre de régularisation as a PES V2 « PES_Aller » file; refused (the reason on the
    deposit's page) when the deposit holds amounts no titre may carry."""
    regie = regie_of(request, number)
    deposit = _deposit(regie, year, slip)
    try:
        name, data = deposit_pes(deposit)
    except FinanceError as exc:
        messages.error(request, exc.message)
        return redirect("regie_pages:deposit_detail", regie.number, deposit.year,
                        deposit.number)
    return download(data, name, "application/xml")


@commune_role_required(*AGENT_ROLES)
def deposit_detail(request: HttpRequest, number: str, year: int, slip: int) -> HttpResponse:
    """A deposit: its totals by mode and its titre de régularisation, by imputation."""
    regie = regie_of(request, number)
    deposit = _deposit(regie, year, slip)
    return page(request, "regie_pages/deposit.html", {
        "deposit": deposit, "lines": deposit.lines.all(),
        "regularisation": deposit_regularisation(deposit),
    }, regie=regie, section="deposits")


@commune_role_required(*AGENT_ROLES)
def deposit_regularisation_export(request: HttpRequest, number: str, year: int,
                                  slip: int) -> HttpResponse:
    """The titre de régularisation, one line per imputation (CSV)."""
    regie = regie_of(request, number)
    deposit = _deposit(regie, year, slip)
    return download(deposit_regularisation_csv(deposit),
                    f"regularisation-{regie.number}-{deposit.slip}.csv",
                    "text/csv; charset=utf-8")
