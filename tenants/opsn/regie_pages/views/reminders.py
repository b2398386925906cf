"""A régie's reminders (relances): its schedule (the titulaire, the administrator, the
finance staff change it), the letters to print (one PDF per run of the job) and the
reminders made; and, on an invoice's page, marking it contested (which stops them)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods, require_POST

from opsn.accounts.auth import actor_of, commune_role_required
from opsn.finance.errors import FinanceError
from opsn.finance.models import InvoiceReminder, ReminderLetterBatch
from opsn.finance.reminders import (
    invoice_contest,
    invoice_contest_lift,
    letters_printed,
    reminder_schedule_save,
    schedule_of,
)
from opsn.kernel.pages import paginate
from opsn.regie_pages.views.common import AGENT_ROLES, download, page, regie_of, status_of
from opsn.regies.errors import RegieError
from opsn.regies.models import Invoice, Regie

FIELDS = ("first", "second", "third")


def _reminders_page(request: HttpRequest, regie: Regie, *, typed: dict | None = None,
                    error: str = "", error_field: str = "", status: int = 200) -> HttpResponse:
    schedule = schedule_of(regie)
    values = typed or {
        "enabled": schedule.enabled,
        **{f: (str(schedule.delays[i]) if i < len(schedule.delays) else "")
           for i, f in enumerate(FIELDS)}}
    made = (InvoiceReminder.objects.filter(invoice__regie=regie)
            .select_related("invoice", "invoice__payer").order_by("-attempted_at", "-id"))
    return page(request, "regie_pages/reminders.html", {
        "schedule": schedule, "values": values, "error": error, "error_field": error_field,
        "batches": paginate(request, ReminderLetterBatch.objects.filter(regie=regie)
                            .defer("file"), per_page=20, parameter="courriers"),
        "made": paginate(request, made, parameter="page"),
    }, status=status, regie=regie, section="reminders")


@commune_role_required(*AGENT_ROLES)
@require_http_methods(["GET", "POST"])
def reminders(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    if request.method == "GET":
        return _reminders_page(request, regie)
    typed = {"enabled": request.POST.get("enabled") == "on",
             **{f: request.POST.get(f, "")[:20] for f in FIELDS}}
    try:
        reminder_schedule_save(regie=regie, actor=actor_of(request), enabled=typed["enabled"],
                               delays=[typed[f] for f in FIELDS])
    except (FinanceError, RegieError) as exc:
        code = exc.http_status if isinstance(exc, FinanceError) else status_of(exc)
        return _reminders_page(request, regie, typed=typed, error=exc.message,
                               error_field=exc.field or "", status=code)
    messages.success(request, f"Relances enregistrées : {schedule_of(regie).describe()}.")
    return redirect("regie_pages:reminders", regie.number)


@commune_role_required(*AGENT_ROLES)
def letters_file(request: HttpRequest, number: str, batch_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    batch = get_object_or_404(ReminderLetterBatch, pk=batch_id, regie=regie)
    return download(bytes(batch.file), f"relances-{regie.number}-{batch.made_on:%Y%m%d}-"
                                       f"{batch.pk}.pdf", "application/pdf")


@commune_role_required(*AGENT_ROLES)
@require_POST
def letters_done(request: HttpRequest, number: str, batch_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    batch = get_object_or_404(ReminderLetterBatch, pk=batch_id, regie=regie)
    try:
        letters_printed(batch=batch, actor=actor_of(request))
    except RegieError as exc:
        messages.error(request, exc.message)
        return redirect("regie_pages:reminders", regie.number)
    messages.success(request, f"{batch} : marqués imprimés et postés.")
    return redirect("regie_pages:reminders", regie.number)


@commune_role_required(*AGENT_ROLES)
@require_POST
def contest(request: HttpRequest, number: str, payer_id: int, invoice_id: int) -> HttpResponse:
    """Mark the invoice contested (``action=contest``) or the contest settled
    (``action=lift``), with the reason; back to the invoice's page."""
    regie = regie_of(request, number)
    invoice = get_object_or_404(Invoice.objects.select_related("regie"), regie=regie,
                                payer_id=payer_id, pk=invoice_id)
    reason = request.POST.get("reason", "")
    try:
        if request.POST.get("action") == "lift":
            invoice_contest_lift(invoice=invoice, actor=actor_of(request), reason=reason)
            messages.success(request, f"Contestation de la facture {invoice.number} levée : "
                                      "les relances reprennent.")
        else:
            invoice_contest(invoice=invoice, actor=actor_of(request), reason=reason)
            messages.success(request, f"Facture {invoice.number} marquée contestée : aucune "
                                      "relance ne part tant que la contestation dure.")
    except (FinanceError, RegieError) as exc:
        messages.error(request, exc.message)
    return redirect("regie_pages:invoice", regie.number, payer_id, invoice.pk)
