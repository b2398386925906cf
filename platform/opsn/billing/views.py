"""The operator's billing pages (console host)."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Sum
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from opsn.accounts.auth import operator_required
from opsn.billing import documents, issuing, services
from opsn.billing.charts import Bar, bar_chart
from opsn.billing.computation import BillingError, compute_year
from opsn.billing.exports import write_preview_csv
from opsn.billing.models import (
    BillingJob,
    BillingRun,
    Discount,
    Invoice,
    InvoiceLine,
    PricingRule,
    ServiceCharge,
    SubscriptionRequest,
    sending_reminder,
)
from opsn.billing.tasks import issue_year
from opsn.communes.errors import UnknownCommune
from opsn.communes.models import Commune, Module
from opsn.jobs.broker import send
from opsn.kernel.errors import DomainError
from opsn.kernel.money import euros, format_cents
from opsn.kernel.pages import paginate


@operator_required
def years(request: HttpRequest) -> HttpResponse:
    rules = PricingRule.objects.select_related("module").prefetch_related("brackets")
    by_year: dict[int, list[PricingRule]] = {}
    for rule in rules.order_by("-year", "module__position"):
        by_year.setdefault(rule.year, []).append(rule)
    runs = {run.year: run for run in BillingRun.objects.all()}
    requests = SubscriptionRequest.objects.select_related("commune", "module")[:50]
    return render(request, "billing/years.html", {"by_year": by_year, "runs": runs,
                                                  "requests": requests,
                                                  "reminder": sending_reminder()})


@operator_required
def preview(request: HttpRequest, year: int) -> HttpResponse:
    try:
        result = compute_year(year)
    except BillingError as exc:
        return render(request, "billing/preview.html", {"year": year, "error": str(exc)},
                      status=400)
    q = request.GET.get("q", "").strip().lower()
    by_commune: dict[str, dict] = {}
    for line in result.lines:
        row = by_commune.setdefault(line.insee_code, {"insee_code": line.insee_code,
                                                      "name": line.commune, "lines": [],
                                                      "total": 0})
        row["lines"].append(line)
        row["total"] += line.amount_cents
    rows = [r for r in by_commune.values()
            if not q or q in r["name"].lower() or q == r["insee_code"].lower()]
    rows.sort(key=lambda r: r["name"])
    for row in rows:
        row["total_label"] = format_cents(row["total"])
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    names = dict(Module.objects.values_list("code", "name"))
    return render(request, "billing/preview.html", {
        "year": year, "q": q, "page": page,
        "modules": [(names.get(m, m), format_cents(t))
                    for m, t in sorted(result.by_module().items())],
        "total": format_cents(result.total_cents()), "communes": len(by_commune),
    })


@operator_required
def preview_csv(request: HttpRequest, year: int) -> HttpResponse:
    try:
        result = compute_year(year)
    except BillingError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="contributions-{year}.csv"'
    write_preview_csv(result, response)
    return response


@operator_required
@require_http_methods(["GET", "POST"])
def issue(request: HttpRequest, year: int) -> HttpResponse:
    """A confirmation that says what will be issued (how many titres, to which communes,
    which total); only a POST carrying that very plan starts the yearly run in the
    background, and the job page shows its progress."""
    if BillingRun.objects.filter(year=year).exists():
        messages.error(request, f"Rien n'a été émis : les contributions {year} ont déjà été "
                                "émises.")
        return redirect("billing:invoices", year=year)
    try:
        plan = issuing.issue_plan(year=year)
    except BillingError as exc:
        messages.error(request, str(exc))
        return redirect("billing:preview", year=year)
    error = ""
    if request.method == "POST":
        confirmed = request.POST.get("confirmed", "")
        if confirmed == plan.token:
            job = BillingJob.objects.create(year=year)
            send(issue_year, job.pk)
            return redirect("billing:job", pk=job.pk)
        error = ("Les titres ont changé depuis que vous les avez lus (règle, abonnement ou "
                 "prestation modifiés) : relisez-les avant de confirmer." if confirmed else
                 "Rien n'a été émis : confirmez d'abord ce qui sera émis.")
    return render(request, "billing/issue_confirm.html", {
        "year": year, "plan": plan, "count": len(plan.titres), "total": euros(plan.total),
        "page": Paginator([(code, name, euros(amount)) for code, name, amount in plan.titres],
                          50).get_page(request.GET.get("page")), "error": error,
    }, status=400 if error else 200)


@operator_required
@require_http_methods(["GET", "POST"])
def discounts(request: HttpRequest, year: int) -> HttpResponse:
    """The year's discounts, set from the console (as ``opsn billing_discount``)."""
    error: DomainError | None = None
    typed = {}
    if request.method == "POST":
        typed = {k: request.POST.get(k, "")[:300]
                 for k in ("commune", "module", "percent", "reason")}
        try:
            commune = Commune.objects.named(typed["commune"])
            discount = services.discount_set(
                commune=commune, year=year, percent=typed["percent"],
                reason=typed["reason"], module=typed["module"] or None,
                by=request.user.get_username())
        except DomainError as exc:
            error = exc
            if isinstance(exc, UnknownCommune):
                exc.field = "commune"
        else:
            shown = str(discount.percent).replace(".", ",")
            messages.success(request, f"Remise de {shown} % pour {commune.name} en {year} "
                                      "enregistrée.")
            return redirect("billing:discounts", year=year)
    rows = Discount.objects.filter(year=year).select_related("commune", "module").order_by(
        "commune__name", "module__position")
    return render(request, "billing/discounts.html", {
        "year": year, "page": paginate(request, rows), "error": error, "typed": typed,
        "modules": Module.objects.filter(is_active=True),
        "issued": Invoice.objects.filter(year=year).exists(),
    }, status=error.http_status if error else 200)


@operator_required
@require_http_methods(["GET", "POST"])
def service_charges(request: HttpRequest, year: int) -> HttpResponse:
    """The year's one-off services, added from the console (as ``opsn billing_service``)."""
    error: DomainError | None = None
    typed = {"vat_rate": "20"}
    if request.method == "POST":
        typed = {k: request.POST.get(k, "")[:300]
                 for k in ("commune", "label", "amount_excl_vat", "vat_rate")}
        try:
            commune = Commune.objects.named(typed["commune"])
            charge = services.service_charge_add(
                commune=commune, year=year, label=typed["label"],
                amount_excl_vat=typed["amount_excl_vat"], vat_rate=typed["vat_rate"],
                by=request.user.get_username())
        except DomainError as exc:
            error = exc
            if isinstance(exc, UnknownCommune):
                exc.field = "commune"
        else:
            messages.success(request, f"Prestation « {charge.label} » ajoutée au titre {year} "
                                      f"de {commune.name} ({euros(charge.amount_excl_vat)} HT).")
            return redirect("billing:services", year=year)
    rows = ServiceCharge.objects.filter(year=year).select_related("commune")
    return render(request, "billing/services.html", {
        "year": year, "page": paginate(request, rows), "error": error, "typed": typed,
        "issued": Invoice.objects.filter(year=year).exists(),
    }, status=error.http_status if error else 200)


@operator_required
@require_POST
def service_charge_remove(request: HttpRequest, pk: int) -> HttpResponse:
    charge = get_object_or_404(ServiceCharge.objects.select_related("commune"), pk=pk)
    try:
        services.service_charge_remove(charge=charge, by=request.user.get_username())
    except BillingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Prestation « {charge.label} » retirée.")
    return redirect("billing:services", year=charge.year)


@operator_required
@require_POST
def discount_remove(request: HttpRequest, pk: int) -> HttpResponse:
    discount = get_object_or_404(Discount.objects.select_related("commune"), pk=pk)
    try:
        services.discount_remove(discount=discount, by=request.user.get_username())
    except BillingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Remise de {discount.commune.name} retirée.")
    return redirect("billing:discounts", year=discount.year)


@operator_required
def job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(BillingJob.objects.select_related("run"), pk=pk)
    return render(request, "billing/job.html", {"job": job})


@operator_required
def invoices(request: HttpRequest, year: int) -> HttpResponse:
    qs = Invoice.objects.filter(year=year).order_by("number")
    status = request.GET.get("status", "")
    if status and status != "overdue":
        qs = qs.filter(status=status)
    shown = [i for i in qs if i.is_overdue] if status == "overdue" else qs
    page = Paginator(shown, 100).get_page(request.GET.get("page"))
    return render(request, "billing/invoices.html", {
        "year": year, "page": page, "status": status, "statuses": Invoice.Status.choices,
        "run": BillingRun.objects.filter(year=year).first()})


@operator_required
@require_POST
def invoice_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    invoice = get_object_or_404(Invoice, number=number)
    try:
        if action == "send":
            invoice = issuing.invoice_send(invoice=invoice)
        elif action == "paid":
            invoice = issuing.invoice_mark_paid(invoice=invoice)
        messages.success(request, f"Titre {invoice.number} : {invoice.get_status_display()}.")
    except BillingError as exc:
        messages.error(request, str(exc))
    return redirect("billing:invoices", year=invoice.year)


def invoice_file(invoice: Invoice) -> FileResponse:
    path = documents.ensure_document(invoice)
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name,
                        content_type="application/pdf")


@operator_required
def invoice_pdf(request: HttpRequest, number: str) -> FileResponse:
    return invoice_file(get_object_or_404(Invoice, number=number))


@operator_required
def dashboard(request: HttpRequest, year: int) -> HttpResponse:
    """Expected revenue of the year, paid and unpaid, by application and by commune."""

    current = (InvoiceLine.objects.filter(invoice__year=year)
               .exclude(invoice__status=Invoice.Status.CORRECTED)
               .values_list("module__name", "invoice__status").annotate(total=Sum("amount")))
    by_module: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for module, status, total in current:
        by_module[module][0 if status == Invoice.Status.PAID else 1] += int(total * 100)
    communes = (Invoice.objects.filter(year=year).exclude(status=Invoice.Status.CORRECTED)
                .values_list("commune_name", "status").annotate(total=Sum("total")))
    by_commune: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name, status, total in communes:
        by_commune[name][0 if status == Invoice.Status.PAID else 1] += int(total * 100)
    module_bars = sorted((Bar(m, *v) for m, v in by_module.items()), key=lambda b: -b.total_cents)
    commune_bars = sorted((Bar(c, *v) for c, v in by_commune.items()),
                          key=lambda b: -b.total_cents)[:20]
    paid = sum(b.paid_cents for b in module_bars)
    unpaid = sum(b.unpaid_cents for b in module_bars)
    return render(request, "billing/dashboard.html", {
        "year": year, "paid": format_cents(paid), "unpaid": format_cents(unpaid),
        "expected": format_cents(paid + unpaid),
        "module_chart": mark_safe(bar_chart(f"Recettes {year} par application", module_bars)),  # noqa: S308 - built from escaped values
        "commune_chart": mark_safe(bar_chart(f"Recettes {year} : les 20 premières communes",  # noqa: S308
                                             commune_bars)),
        "module_rows": [(b.label, format_cents(b.paid_cents), format_cents(b.unpaid_cents))
                        for b in module_bars],
        "commune_rows": [(b.label, format_cents(b.paid_cents), format_cents(b.unpaid_cents))
                         for b in commune_bars],
    })
