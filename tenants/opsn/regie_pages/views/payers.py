"""Payers and their invoices: search, create and edit a payer (its link code shown
large: the citizen types it to attach the record to their account), issue and cancel
invoices, use a payer's credit."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from opsn.accounts.auth import actor_of, commune_role_required
from opsn.citizens.personal_data import payer_data_export
from opsn.citizens.personal_data_document import payer_pdf
from opsn.direct_debit.models import Mandate
from opsn.direct_debit.selectors import debit_returns
from opsn.finance.selectors import handed_over_of
from opsn.kernel.pages import paginate
from opsn.kernel.tenancy import current_commune
from opsn.online_payments.selectors import LABELS as ONLINE_LABELS
from opsn.online_payments.selectors import in_flight
from opsn.regie_pages.forms import (
    INVOICE_LINES,
    CancelForm,
    ErasureForm,
    InvoiceForm,
    PayerForm,
)
from opsn.regie_pages.views.common import (
    AGENT_ROLES,
    amount_input,
    attach,
    page,
    regie_of,
    status_of,
)
from opsn.regies import selectors
from opsn.regies.errors import RegieError
from opsn.regies.models import Invoice, InvoiceMailing, LedgerEntry, MailingStatus, Payer, Regie
from opsn.regies.services import erasure, invoicing
from opsn.regies.services.payments import credit_apply, credit_of


def _payer(regie: Regie, payer_id: int) -> Payer:
    return get_object_or_404(Payer, regie=regie, pk=payer_id)


@commune_role_required(*AGENT_ROLES)
def payer_list(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    q = (request.GET.get("q") or "").strip()
    payers = selectors.payers_search(regie, q, limit=None) if q else (
        Payer.objects.filter(regie=regie).order_by("name", "id"))
    paginated = paginate(request, payers)
    return page(request, "regie_pages/payers.html", {"q": q, "page_obj": paginated},
                regie=regie, section="payers")


@commune_role_required(*AGENT_ROLES)
@require_http_methods(["GET", "POST"])
def payer_new(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    form = PayerForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                payer = invoicing.payer_create(regie=regie, actor=actor_of(request),
                                               **form.cleaned_data)
            except RegieError as exc:
                attach(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, f"Payeur {payer.name} créé : code de rattachement "
                                          f"{payer.link_code}.")
                return redirect("regie_pages:payer", regie.number, payer.pk)
        else:
            status = 400
    return page(request, "regie_pages/payer_new.html", {"form": form}, status=status,
                regie=regie, section="payers")


def _payer_page(request: HttpRequest, regie: Regie, payer: Payer, *,
                form: PayerForm | None = None, cancel: tuple[int, CancelForm] | None = None,
                erase_form: ErasureForm | None = None, error: str = "",
                status: int = 200) -> HttpResponse:
    invoices = list(Invoice.objects.filter(payer=payer).select_related("handed_over__handover")
                    .order_by("-issued_on", "-id"))
    flight = in_flight(i.pk for i in invoices if i.status != "paid" and not i.cancelled_at)
    failed = set(InvoiceMailing.objects.filter(invoice__payer=payer, status=MailingStatus.FAILED)
                 .values_list("invoice_id", flat=True))
    for invoice in invoices:  # a payment in flight: no other offered
        invoice.online_label = ONLINE_LABELS.get(flight.get(invoice.pk, ""), "")
        invoice.mail_failed = invoice.pk in failed
        invoice.transmitted = handed_over_of(invoice)
    entries = (LedgerEntry.objects.filter(payer=payer).select_related("regie", "reverses")
               .order_by("-id")[:100])
    initial = {f: getattr(payer, f) for f in invoicing.PAYER_FIELDS}
    return page(request, "regie_pages/payer.html", {
        "payer": payer, "form": form or PayerForm(initial=initial), "invoices": invoices,
        "entries": entries, "credit": credit_of(payer),
        "mandates": Mandate.objects.filter(payer=payer).order_by("-signed_on", "-id"),
        "debit_returns": debit_returns(payer_ids=[payer.pk])[:50],
        "cancel_id": cancel[0] if cancel else None,
        "cancel_form": cancel[1] if cancel else CancelForm(),
        "error": error,
        "certificate_years": list(range(timezone.localdate().year,
                                        max(payer.created_at.year, 2000) - 1, -1)),
        "erase_form": erase_form or ErasureForm(),
        "has_contact": any(getattr(payer, f) for f in erasure.CONTACT_FIELDS),
        "owed": sum((i.remaining for i in invoices if i.cancelled_at is None), 0),
        "paid": LedgerEntry.objects.filter(payer=payer).aggregate(s=Sum("amount"))["s"] or 0,
    }, status=status, regie=regie, section="payers")


@commune_role_required(*AGENT_ROLES)
@require_http_methods(["GET", "POST"])
def payer_detail(request: HttpRequest, number: str, payer_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    payer = _payer(regie, payer_id)
    if request.method == "GET":
        return _payer_page(request, regie, payer)
    form = PayerForm(request.POST)
    if not form.is_valid():
        return _payer_page(request, regie, payer, form=form, status=400)
    try:
        invoicing.payer_update(payer=payer, actor=actor_of(request), **form.cleaned_data)
    except RegieError as exc:
        attach(form, exc)
        return _payer_page(request, regie, payer, form=form, status=status_of(exc))
    messages.success(request, "Fiche du payeur enregistrée.")
    return redirect("regie_pages:payer", regie.number, payer.pk)


@commune_role_required(*AGENT_ROLES)
@require_POST
def payer_data(request: HttpRequest, number: str, payer_id: int,
               extension: str = "json") -> HttpResponse:
    """Right of access, on a payer's request: everything the commune holds on this payer
    record, as JSON or as a PDF to hand over; the export is written in the audit log."""
    regie = regie_of(request, number)
    payer = _payer(regie, payer_id)
    document = payer_data_export(payer=payer, actor=actor_of(request))
    response: HttpResponse
    if extension == "pdf":
        commune = current_commune()
        response = HttpResponse(payer_pdf(document, commune=commune.name if commune else ""),
                                content_type="application/pdf")
    else:
        response = JsonResponse(document, json_dumps_params={"ensure_ascii": False,
                                                             "indent": 1})
    filename = f"donnees-payeur-{payer.link_code}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@commune_role_required(*AGENT_ROLES)
@require_POST
def payer_erase(request: HttpRequest, number: str, payer_id: int) -> HttpResponse:
    """Right to erasure, on a payer's request: its contact details blanked (the service
    says who may, and refuses while an invoice is unpaid); the amounts stay."""
    regie = regie_of(request, number)
    payer = _payer(regie, payer_id)
    form = ErasureForm(request.POST)
    if not form.is_valid():
        return _payer_page(request, regie, payer, erase_form=form, status=400)
    try:
        erased = erasure.payer_erase(payer=payer, actor=actor_of(request),
                                     reason=form.cleaned_data["reason"])
    except RegieError as exc:
        attach(form, exc)
        return _payer_page(request, regie, payer, erase_form=form, status=status_of(exc))
    messages.success(request, f"Coordonnées effacées ({', '.join(erased)}) ; les factures, "
                              "les paiements et les quittances sont conservés.")
    return redirect("regie_pages:payer", regie.number, payer.pk)


@commune_role_required(*AGENT_ROLES)
@require_http_methods(["GET", "POST"])
def invoice_new(request: HttpRequest, number: str, payer_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    payer = _payer(regie, payer_id)
    today = timezone.localdate()
    form = InvoiceForm(request.POST or None, regie=regie, initial={
        "issued_on": today, "due_on": today + datetime.timedelta(days=30),
        **{f"line{n}_quantity": "1" for n in range(1, INVOICE_LINES + 1)}})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                invoice = invoicing.invoice_issue(
                    regie=regie, actor=actor_of(request), payer=payer,
                    lines=_lines(form), issued_on=form.cleaned_data["issued_on"],
                    due_on=form.cleaned_data["due_on"], number=form.cleaned_data["number"],
                    label=form.cleaned_data["label"])
            except RegieError as exc:
                attach(form, exc, {"lines": "line1_label", "product": "line1_product"})
                status = status_of(exc)
            else:
                messages.success(request, f"Facture {invoice.number} émise : "
                                          f"{amount_input(invoice.total)} €.")
                return redirect("regie_pages:payer", regie.number, payer.pk)
        else:
            status = 400
    return page(request, "regie_pages/invoice_new.html", {"form": form, "payer": payer},
                status=status, regie=regie, section="payers")


def _lines(form: InvoiceForm) -> list:
    """The lines typed; a line's error is shown on its own row (line2_unit_price…)."""
    lines = []
    for n in range(1, INVOICE_LINES + 1):
        value = {key: (form.cleaned_data[f"line{n}_{key}"] or "").strip()
                 for key in ("product", "label", "quantity", "unit_price")}
        if not (value["product"] or value["label"] or value["unit_price"]):
            continue  # an empty row
        try:
            lines.append(invoicing.line_draft(
                label=value["label"], quantity=value["quantity"] or "1",
                unit_price=value["unit_price"] or None,
                product=form.products.get(value["product"])))
        except RegieError as exc:
            raise RegieError(exc.message, field=f"line{n}_{exc.field or 'label'}") from None
    if not lines:
        raise RegieError("Une facture a au moins une ligne : choisissez un produit ou "
                         "tapez un libellé et un prix.", field="line1_label")
    return lines


@commune_role_required(*AGENT_ROLES)
@require_POST
def invoice_cancel(request: HttpRequest, number: str, payer_id: int,
                   invoice_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    payer = _payer(regie, payer_id)
    invoice = get_object_or_404(Invoice, payer=payer, pk=invoice_id)
    form = CancelForm(request.POST, auto_id=f"annuler-{invoice.pk}-%s")
    form.is_valid()
    try:
        invoicing.invoice_cancel(invoice=invoice, actor=actor_of(request),
                                 reason=form.cleaned_data.get("reason", ""))
    except RegieError as exc:
        attach(form, exc)
        return _payer_page(request, regie, payer, cancel=(invoice.pk, form),
                           status=status_of(exc))
    messages.success(request, f"Facture {invoice.number} annulée : ce qui avait été payé va "
                              "à l'avoir du payeur.")
    return redirect("regie_pages:payer", regie.number, payer.pk)


@commune_role_required(*AGENT_ROLES)
@require_POST
def credit_use(request: HttpRequest, number: str, payer_id: int,
               invoice_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    payer = _payer(regie, payer_id)
    invoice = get_object_or_404(Invoice, payer=payer, pk=invoice_id)
    try:
        applied = credit_apply(invoice=invoice, actor=actor_of(request))
    except RegieError as exc:
        return _payer_page(request, regie, payer, error=exc.message, status=status_of(exc))
    messages.success(request, f"Avoir utilisé : {amount_input(applied)} € affectés à la "
                              f"facture {invoice.number}.")
    return redirect("regie_pages:payer", regie.number, payer.pk)
