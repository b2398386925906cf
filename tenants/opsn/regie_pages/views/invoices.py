"""An invoice's page (its document to print or e-mail, and what became of its automatic
e-mail), a payer's yearly certificate, and the printing of a whole batch of invoices (an
import, a month) by a background job with its progress bar."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from opsn.accounts.auth import actor_of, commune_role_required
from opsn.finance.reminders import open_contest, reminders_of, schedule_of
from opsn.finance.selectors import handed_over
from opsn.jobs.broker import send
from opsn.kernel.tenancy import current_commune
from opsn.regie_pages.views.common import AGENT_ROLES, download, page, regie_of, status_of
from opsn.regies.errors import RegieError
from opsn.regies.invoice_documents import certificate_pdf, invoice_pdf, with_documents
from opsn.regies.models import (
    BatchStatus,
    DocumentBatch,
    ImportBatch,
    ImportKind,
    Invoice,
    InvoiceMailing,
    Payer,
    Regie,
)
from opsn.regies.services.mailing import invoice_email
from opsn.regies.services.printing import batch_path, document_batch_request, month_of
from opsn.regies.tasks import print_invoices

BATCHES_SHOWN = 20


def _invoice(regie: Regie, payer_id: int, invoice_id: int) -> Invoice:
    found = with_documents(Invoice.objects.filter(regie=regie, payer_id=payer_id,
                                                  pk=invoice_id)).first()
    if found is None:
        raise Http404("Aucune facture de ce payeur ne porte ce numéro.")
    return found


def _invoice_page(request: HttpRequest, regie: Regie, invoice: Invoice, *,
                  mail_error: str = "", status: int = 200) -> HttpResponse:
    return page(request, "regie_pages/invoice.html", {
        "invoice": invoice, "payer": invoice.payer, "lines": invoice.lines.all(),
        "mailing": InvoiceMailing.objects.filter(invoice=invoice).first(),
        "payments": invoice.allocations.select_related("entry").order_by("id"),
        "mail_error": mail_error,
        # Its reminders (opsn.finance.reminders), whether it is contested or handed over.
        "reminders": reminders_of([invoice.pk]).get(invoice.pk, []),
        "contest": open_contest(invoice),
        "reminder_schedule": schedule_of(regie),
        "transmitted": handed_over(invoice.pk),
        "mail_to": request.POST.get("to", invoice.payer.email) if mail_error
        else invoice.payer.email,
    }, status=status, regie=regie, section="payers")


@commune_role_required(*AGENT_ROLES)
def invoice_detail(request: HttpRequest, number: str, payer_id: int,
                   invoice_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    return _invoice_page(request, regie, _invoice(regie, payer_id, invoice_id))


@commune_role_required(*AGENT_ROLES)
def invoice_download(request: HttpRequest, number: str, payer_id: int,
                     invoice_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    invoice = _invoice(regie, payer_id, invoice_id)
    return download(invoice_pdf(invoice), f"facture-{invoice.number}.pdf", "application/pdf")


@commune_role_required(*AGENT_ROLES)
@require_POST
def invoice_send(request: HttpRequest, number: str, payer_id: int,
                 invoice_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    invoice = _invoice(regie, payer_id, invoice_id)
    to = (request.POST.get("to") or "").strip() or None
    try:
        address = invoice_email(invoice=invoice, actor=actor_of(request), to=to)
    except RegieError as exc:
        return _invoice_page(request, regie, invoice, mail_error=exc.message,
                             status=status_of(exc))
    messages.success(request, f"Facture {invoice.number} envoyée par courriel à {address}.")
    return redirect("regie_pages:invoice", regie.number, payer_id, invoice.pk)


@commune_role_required(*AGENT_ROLES)
def certificate(request: HttpRequest, number: str, payer_id: int) -> HttpResponse:
    """The payer's attestation de paiement for the year asked (``?annee=``)."""
    regie = regie_of(request, number)
    payer = get_object_or_404(Payer, regie=regie, pk=payer_id)
    year = _year(request.GET.get("annee", ""))
    return download(certificate_pdf(payer, year), f"attestation-{year}-{payer.pk}.pdf",
                    "application/pdf")


def _year(value: str) -> int:
    this_year = timezone.localdate().year
    text = (value or "").strip()
    if not text:
        return this_year
    if not (text.isdigit() and len(text) == 4 and 2000 <= int(text) <= this_year):
        raise Http404("Année inconnue.")
    return int(text)


# --- Printing a batch -------------------------------------------------------------------------

def _printing_page(request: HttpRequest, regie: Regie, *, error: str = "",
                   status: int = 200) -> HttpResponse:
    today = timezone.localdate()
    return page(request, "regie_pages/printing.html", {
        "batches": DocumentBatch.objects.filter(regie=regie).select_related(
            "import_batch")[:BATCHES_SHOWN],
        "imports": ImportBatch.objects.filter(regie=regie, kind=ImportKind.INVOICES)[:20],
        "month": request.POST.get("month", f"{today:%Y-%m}"), "error": error,
    }, status=status, regie=regie, section="payers")


@commune_role_required(*AGENT_ROLES)
@require_http_methods(["GET", "POST"])
def printing(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    if request.method == "GET":
        return _printing_page(request, regie)
    chosen = (request.POST.get("import") or "").strip()
    try:
        if chosen:
            if not chosen.isdigit():
                raise RegieError("Choisissez un import de la liste.", field="import")
            found = get_object_or_404(ImportBatch, regie=regie, pk=int(chosen))
            batch = document_batch_request(regie=regie, actor=actor_of(request),
                                           import_batch=found)
        else:
            batch = document_batch_request(regie=regie, actor=actor_of(request),
                                           month=month_of(request.POST.get("month", "")))
    except RegieError as exc:
        return _printing_page(request, regie, error=exc.message, status=status_of(exc))
    send(print_invoices, batch.pk, commune=current_commune())
    messages.success(request, f"Impression de {batch.total} facture(s) lancée : le PDF sera "
                              "prêt sur cette page.")
    return redirect("regie_pages:printing", regie.number)


@commune_role_required(*AGENT_ROLES)
def printing_state(request: HttpRequest, number: str, batch_id: int) -> JsonResponse:
    """The progress bar's figures (the page asks every few seconds)."""
    regie = regie_of(request, number)
    batch = get_object_or_404(DocumentBatch, regie=regie, pk=batch_id)
    return JsonResponse({"status": batch.status, "label": batch.get_status_display(),
                         "done": batch.done, "total": batch.total, "percent": batch.percent})


@commune_role_required(*AGENT_ROLES)
def printing_file(request: HttpRequest, number: str, batch_id: int) -> FileResponse:
    regie = regie_of(request, number)
    batch = get_object_or_404(DocumentBatch, regie=regie, pk=batch_id,
                              status=BatchStatus.DONE)
    path = batch_path(batch)
    if not path.is_file():
        raise Http404("Ce PDF n'est plus disponible : relancez l'impression.")
    what = (f"import-{batch.import_batch_id}" if batch.import_batch_id
            else f"{batch.month or datetime.date.today():%Y-%m}")
    return FileResponse(path.open("rb"), as_attachment=True,
                        filename=f"factures-{regie.number}-{what}.pdf",
                        content_type="application/pdf")
