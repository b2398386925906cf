"""Imports into a régie: the business software's invoices (CSV), a card terminal's export
(CSV), a bank statement (CAMT.053); and the queue of imported payments no invoice
matched, which an agent posts to a payer or invoices, or the titulaire dismisses."""

from __future__ import annotations

import re

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from opsn.accounts.auth import actor_of, commune_role_required
from opsn.kernel.pages import paginate
from opsn.regie_pages.forms import DismissForm, ImportForm, QueuedPostForm
from opsn.regie_pages.views.common import AGENT_ROLES, attach, page, regie_of, status_of
from opsn.regies.errors import RegieError
from opsn.regies.models import (
    ImportBatch,
    ImportedPayment,
    ImportKind,
    Invoice,
    Payer,
    QueueStatus,
    Regie,
)
from opsn.regies.services.imports import (
    file_import,
    outcome_summary,
    queued_payment_dismiss,
    queued_payment_post,
)
from opsn.regies.services.invoicing import normalise_link_code


def _imports_page(request: HttpRequest, regie: Regie, *, status: int = 200,
                  upload: ImportForm | None = None,
                  item_forms: tuple[int, QueuedPostForm | None, DismissForm | None] | None = None,
                  ) -> HttpResponse:
    uploads = [upload if upload is not None and upload.kind == kind else ImportForm(kind=kind)
               for kind in ImportKind.values]
    # The queue, one page at a time (two bank statements of 20,000 lines once made a 40 MB
    # page). A form sent from a page comes back to it (its address keeps ?page=).
    pending = paginate(request, ImportedPayment.objects.filter(
        regie=regie, status=QueueStatus.PENDING).select_related("batch").order_by(
        "paid_on", "id"))
    queue = []
    for item in pending:
        bound = item_forms if item_forms and item_forms[0] == item.pk else None
        queue.append({"item": item,
                      "post": (bound and bound[1]) or QueuedPostForm(prefix=f"q{item.pk}"),
                      "dismiss": (bound and bound[2]) or DismissForm(prefix=f"d{item.pk}"),
                      "open": bound is not None})
    batches = [{"batch": b, "summary": outcome_summary(b.kind, b.outcome) if b.outcome else ""}
               for b in ImportBatch.objects.filter(regie=regie).order_by("-imported_at")[:20]]
    failed = [f for f in (upload, *(item_forms or (None,))[1:]) if f is not None and f.errors]
    return page(request, "regie_pages/imports.html", {
        "uploads": uploads, "queue": queue, "pending": pending, "batches": batches,
        "failed": failed[0] if failed else None, "here": _here(request),
    }, status=status, regie=regie, section="imports")


def _here(request: HttpRequest) -> str:
    """The queue's page number, to come back to it after acting on one of its lines."""
    number = request.GET.get("page", "")
    return f"?page={number}" if number.isdecimal() and len(number) <= 9 else ""


def _back(request: HttpRequest, regie: Regie) -> HttpResponse:
    return redirect(reverse("regie_pages:imports", args=[regie.number]) + _here(request))


@commune_role_required(*AGENT_ROLES)
@require_http_methods(["GET", "POST"])
def imports(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    if request.method == "GET":
        return _imports_page(request, regie)
    kind = request.POST.get("kind", "")
    if kind not in ImportKind.values:
        return _imports_page(request, regie, status=400)
    form = ImportForm(request.POST, request.FILES, kind=kind)
    if not form.is_valid():
        return _imports_page(request, regie, status=400, upload=form)
    upload = form.cleaned_data["file"]
    try:
        batch = file_import(regie=regie, actor=actor_of(request), kind=kind,
                            content=upload.read(), file_name=upload.name,
                            encoding=form.cleaned_data.get("encoding") or "utf-8")
    except RegieError as exc:
        # The file's line and column, when the error names them, are in str(exc).
        form.add_error("file", str(exc))
        return _imports_page(request, regie, status=status_of(exc), upload=form)
    messages.success(request, f"Import « {batch.file_name} » : "
                              f"{outcome_summary(batch.kind, batch.outcome)}.")
    return redirect("regie_pages:imports", regie.number)


def _item(regie: Regie, item_id: int) -> ImportedPayment:
    return get_object_or_404(ImportedPayment.objects.select_related("batch"), regie=regie,
                             pk=item_id)


def _resolve(regie: Regie, data: dict) -> tuple[Payer | None, list[Invoice]]:
    """The invoices typed by number and the payer by link code or reference, among the
    régie's own."""
    numbers = [n for n in re.split(r"[\s,;]+", data["invoices"] or "") if n]
    invoices = list(Invoice.objects.filter(regie=regie, number__in=numbers))
    missing = [n for n in numbers if n not in {i.number for i in invoices}]
    if missing:
        raise RegieError(f"Aucune facture {missing[0]} dans la régie {regie.name}.",
                         field="invoices")
    invoices.sort(key=lambda i: numbers.index(i.number))
    payer = None
    typed = (data["payer"] or "").strip()
    if typed:
        payer = Payer.objects.filter(regie=regie).filter(
            Q(link_code=normalise_link_code(typed)) | Q(external_ref__iexact=typed)).first()
        if payer is None:
            raise RegieError(f"Aucun payeur « {typed} » dans la régie {regie.name}.",
                             field="payer")
    return payer, invoices


@commune_role_required(*AGENT_ROLES)
@require_POST
def queued_post(request: HttpRequest, number: str, item_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    item = _item(regie, item_id)
    form = QueuedPostForm(request.POST, prefix=f"q{item.pk}")
    if form.is_valid():
        try:
            payer, invoices = _resolve(regie, form.cleaned_data)
            entry = queued_payment_post(item=item, actor=actor_of(request), payer=payer,
                                        invoices=invoices)
        except RegieError as exc:
            attach(form, exc, {"allocations": "invoices"})
            return _imports_page(request, regie, status=status_of(exc),
                                 item_forms=(item.pk, form, None))
        messages.success(request, f"Paiement importé encaissé : quittance {entry.receipt} "
                                  f"({entry.payer_name}).")
        return _back(request, regie)
    return _imports_page(request, regie, status=400, item_forms=(item.pk, form, None))


@commune_role_required(*AGENT_ROLES)
@require_POST
def queued_dismiss(request: HttpRequest, number: str, item_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    item = _item(regie, item_id)
    form = DismissForm(request.POST, prefix=f"d{item.pk}")
    form.is_valid()
    try:
        queued_payment_dismiss(item=item, actor=actor_of(request),
                               reason=form.cleaned_data.get("reason", ""))
    except RegieError as exc:
        attach(form, exc)
        return _imports_page(request, regie, status=status_of(exc),
                             item_forms=(item.pk, None, form))
    messages.success(request, f"Paiement importé ligne {item.line} écarté.")
    return _back(request, regie)
