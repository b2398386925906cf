"""The operator's billing pages (console host)."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q, Sum
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from opsn.accounts.auth import account_id, operator_required
from opsn.billing import conventions as conventions_service
from opsn.billing import documents, exports, issuing, services
from opsn.billing.charts import Bar, amount_chart, bar_chart
from opsn.billing.computation import BillingError, compute_year
from opsn.billing.exports import write_preview_csv
from opsn.billing.models import (
    BillingEvent,
    BillingJob,
    BillingRun,
    Convention,
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
    this_year = timezone.localdate().year
    return render(request, "billing/years.html", {"by_year": by_year, "runs": runs,
                                                  "this_year": this_year,
                                                  "next_year": this_year + 1,
                                                  "requests": requests,
                                                  "reminder": sending_reminder(),
                                                  "pending": SubscriptionRequest.objects.filter(
                                                      status="pending").count()})


PREVIEW_PAGE = 50  # communes per page of the preview's detail


@operator_required
def preview(request: HttpRequest, year: int) -> HttpResponse:
    """What the year would issue, before issuing: the totals per application and per
    commune first, their charts, then the detail (module names, never codes), searchable
    by commune or application and paginated; the same as CSV and ODS."""
    try:
        result = compute_year(year)
    except BillingError as exc:
        return render(request, "billing/preview.html", {"year": year, "error": str(exc)},
                      status=400)
    names = dict(Module.objects.values_list("code", "name"))
    q = request.GET.get("q", "").strip()[:60]
    wanted = q.lower()
    by_module: dict[str, list[int]] = {}
    by_commune: dict[str, dict] = {}
    for line in result.lines:
        module = by_module.setdefault(line.module, [0, 0])
        module[0] += 1
        module[1] += line.amount_cents
        row = by_commune.setdefault(line.insee_code, {"insee_code": line.insee_code,
                                                      "name": line.commune, "lines": [],
                                                      "total": 0})
        row["lines"].append((names.get(line.module, line.module), line))
        row["total"] += line.amount_cents
    modules = sorted(((names.get(code, code), count, cents)
                      for code, (count, cents) in by_module.items()), key=lambda m: m[0])
    communes = sorted(by_commune.values(), key=lambda r: -r["total"])
    rows = []
    for row in sorted(by_commune.values(), key=lambda r: r["name"]):
        if wanted and not (wanted in row["name"].lower() or wanted == row["insee_code"]):
            lines = [pair for pair in row["lines"] if wanted in pair[0].lower()]
            if not lines:
                continue
            row = {**row, "lines": lines}
        rows.append({**row, "total_label": format_cents(row["total"])})
    return render(request, "billing/preview.html", {
        "year": year, "q": q,
        "page": Paginator(rows, PREVIEW_PAGE).get_page(request.GET.get("page")),
        "modules": [(name, count, format_cents(cents)) for name, count, cents in modules],
        "top": [(r["name"], format_cents(r["total"])) for r in communes[:20]],
        "module_chart": mark_safe(amount_chart(  # noqa: S308 - built from escaped values
            f"Contributions {year} par application",
            [(name, cents) for name, _, cents in modules])),
        "commune_chart": mark_safe(amount_chart(  # noqa: S308 - built from escaped values
            f"Contributions {year} : les 20 communes qui contribuent le plus",
            [(r["name"], r["total"]) for r in communes[:20]])),
        "total": format_cents(result.total_cents()), "communes": len(by_commune),
        "matches": len(rows),
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
def preview_ods(request: HttpRequest, year: int) -> HttpResponse:
    try:
        result = compute_year(year)
    except BillingError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    names = dict(Module.objects.values_list("code", "name"))
    response = HttpResponse(exports.preview_ods(result, names),
                            content_type="application/vnd.oasis.opendocument.spreadsheet")
    response["Content-Disposition"] = f'attachment; filename="contributions-{year}.ods"'
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


RULE_FIELDS = ("module", "kind", "annual_cost", "operator_share_fraction",
               "operator_share_amount", "population_kind", "population_year", "brackets",
               "flat_amount")


@operator_required
@require_http_methods(["GET", "POST"])
def rules(request: HttpRequest, year: int) -> HttpResponse:
    """The year's pricing rules, set from the console: the very service ``opsn billing_rule``
    calls, with its refusals; a rule set again replaces the application's rule."""
    error: DomainError | None = None
    typed: dict[str, str] = {"kind": "flat", "population_kind": "municipale",
                             "population_year": str(year - 1)}
    issued = Invoice.objects.filter(year=year).exists()
    if request.method == "POST":
        typed = {k: request.POST.get(k, "")[:300] for k in RULE_FIELDS}
        typed["newcomer_double"] = "on" if request.POST.get("newcomer_double") else ""
        try:
            rule = services.rule_set(
                module=typed["module"], year=year, kind=typed["kind"],
                annual_cost=typed["annual_cost"],
                operator_share_fraction=typed["operator_share_fraction"],
                operator_share_amount=typed["operator_share_amount"],
                population_kind=typed["population_kind"],
                population_year=typed["population_year"], brackets=typed["brackets"],
                flat_amount=typed["flat_amount"], newcomer_double=bool(typed["newcomer_double"]),
                by=account_id(request))
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, f"Règle {year} de {rule.module.name} enregistrée : "
                                      f"{rule.get_kind_display()}.")
            return redirect("billing:rules", year=year)
    rows = PricingRule.objects.filter(year=year).select_related("module").prefetch_related(
        "brackets").order_by("module__position")
    return render(request, "billing/rules.html", {
        "year": year, "page": paginate(request, rows), "error": error, "typed": typed,
        "modules": Module.objects.filter(is_active=True), "kinds": PricingRule.Kind.choices,
        "issued": issued,
    }, status=error.http_status if error else 200)


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
                by=account_id(request))
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
                by=account_id(request))
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
        services.service_charge_remove(charge=charge, by=account_id(request))
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
        services.discount_remove(discount=discount, by=account_id(request))
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
        "run": BillingRun.objects.filter(year=year).first(), "today": timezone.localdate()})


@operator_required
@require_POST
def invoice_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    invoice = get_object_or_404(Invoice, number=number)
    by = account_id(request)
    try:
        if action == "send":
            invoice = issuing.invoice_send(
                invoice=invoice, by=by,
                when=issuing.sent_at_of(request.POST.get("sent_on", "")[:40]))
        elif action == "paid":
            invoice = issuing.invoice_mark_paid(invoice=invoice, by=by)
        else:
            raise Http404("Action inconnue.")
        messages.success(request, f"Titre {invoice.number} : {invoice.get_status_display()}.")
    except BillingError as exc:
        messages.error(request, f"Titre {invoice.number} : {exc}")
    return redirect("billing:invoices", year=invoice.year)


def _typed_lines(post) -> list[dict[str, str]]:
    """The replacement titre's lines as typed: ``line-N-label``, ``-amount``, ``-vat``,
    ``-module``; a line left with neither label nor amount is not a line."""
    lines = []
    for n in range(1, 51):
        line = {k: post.get(f"line-{n}-{k}", "")[:300] for k in ("module", "label", "amount",
                                                                  "vat")}
        if any(line[k].strip() for k in ("label", "amount")):
            lines.append(line)
    return lines


@operator_required
@require_http_methods(["GET", "POST"])
def invoice_correct(request: HttpRequest, number: str) -> HttpResponse:
    """Correct a titre: a credit note cancels it whole and a new titre replaces it, with the
    lines typed here (the titre's own lines to start from) and the reason. Nothing is
    edited; both documents say why."""
    invoice = get_object_or_404(Invoice, number=number)
    error: DomainError | None = None
    if request.method == "POST":
        typed_lines = _typed_lines(request.POST)
        reason = request.POST.get("reason", "")[:2000]
        try:
            credit, replacement = issuing.invoice_correct(
                invoice=invoice, reason=reason, by=account_id(request),
                lines=[(line["module"] or None, line["label"], line["amount"],
                        line["vat"] or "0") for line in typed_lines])
        except BillingError as exc:
            error = exc
        else:
            messages.success(request, f"Titre {invoice.number} annulé par l'avoir "
                                      f"{credit.number} et remplacé par le titre "
                                      f"{replacement.number} ({euros(replacement.total)}).")
            return redirect("billing:invoices", year=invoice.year)
    else:
        reason = invoice.contest_reason
        typed_lines = [{"module": line.module_id or "", "label": line.label,
                        "amount": str(line.amount), "vat": str(line.vat_rate)}
                       for line in invoice.lines.all()]
    rows = [*typed_lines, {"module": "", "label": "", "amount": "", "vat": "0"}]
    correctable = (invoice.kind == Invoice.Kind.INVOICE
                   and invoice.status not in (Invoice.Status.CORRECTED, Invoice.Status.PAID))
    return render(request, "billing/invoice_correct.html", {
        "invoice": invoice, "lines": invoice.lines.all(), "rows": rows, "reason": reason,
        "error": error, "correctable": correctable,
        "modules": Module.objects.all(),
        "history": BillingEvent.objects.filter(invoice_number__in=[
            invoice.number, *invoice.corrections.values_list("number", flat=True)])[:50],
    }, status=error.http_status if error else 200)


@operator_required
def events(request: HttpRequest) -> HttpResponse:
    """The operator's billing trail: rules, discounts and services set or removed, every
    titre sent, contested, corrected, paid."""
    rows = BillingEvent.objects.all()
    q = request.GET.get("q", "").strip()[:40]
    if q:
        rows = rows.filter(Q(invoice_number__icontains=q) | Q(insee_code=q)
                           | Q(summary__icontains=q))
    return render(request, "billing/events.html", {"page": paginate(request, rows), "q": q})


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


@operator_required
@require_http_methods(["GET", "POST"])
def conventions(request: HttpRequest, insee_code: str) -> HttpResponse:
    """The commune's conventions: number, term, the mentions its titres carry, amendments.
    ``action``: ``create``, ``change`` (``pk``) or ``amend`` (``pk``)."""
    commune = Commune.objects.filter(insee_code=insee_code[:5].upper()).first()
    if commune is None:
        raise Http404("Aucune commune accueillie n'a ce code INSEE.")
    error: DomainError | None = None
    typed: dict[str, str] = {}
    target = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        typed = {k: request.POST.get(k, "")[:1200] for k in (
            "number", "starts_on", "ends_on", "mentions", "signed_on", "subject", "module",
            "yearly_cost", "amendment")}
        target = f"{action}-{request.POST.get('pk', '')[:12]}"
        found = None
        if action in ("change", "amend", "cost"):
            pk = request.POST.get("pk", "")
            found = Convention.objects.filter(
                commune=commune, pk=int(pk) if pk.isdigit() and len(pk) < 10 else 0).first()
            if found is None:
                raise Http404("Aucune convention de ce numéro pour la commune.")
        try:
            by = account_id(request)
            if action == "amend":
                assert found is not None
                amendment = conventions_service.amendment_add(
                    convention=found, signed_on=typed["signed_on"], subject=typed["subject"],
                    by=by)
                done = (f"Avenant n° {amendment.number} à la convention n° {found.number} "
                        "enregistré.")
            elif action == "cost":
                assert found is not None
                cost = conventions_service.convention_cost_set(
                    convention=found, module=typed["module"], yearly_cost=typed["yearly_cost"],
                    amendment=typed["amendment"] or None, by=by)
                done = (f"Convention n° {found.number} : {cost.module.name}, "
                        f"{euros(cost.yearly_cost)} par an dès {cost.applies_from.year}.")
            elif action in ("create", "change"):
                convention = conventions_service.convention_set(
                    commune=commune, convention=found, number=typed["number"],
                    starts_on=typed["starts_on"], ends_on=typed["ends_on"],
                    mentions=typed["mentions"], by=by)
                done = f"Convention n° {convention.number} enregistrée."
            else:
                raise BillingError("Action inconnue.")
        except BillingError as exc:
            error = exc
        else:
            messages.success(request, done)
            return redirect("billing:conventions", insee_code=commune.insee_code)
    rows = list(Convention.objects.filter(commune=commune).prefetch_related(
        "amendments", "costs__module", "costs__amendment"))
    cost_fields = ("module", "yearly_cost", "amendment")
    for row in rows:  # a refused cost is shown next to its field, in its convention's form
        here = error is not None and target == f"cost-{row.pk}" and error.field in cost_fields
        row.cost_error = error if here else None  # type: ignore[attr-defined]
    return render(request, "billing/conventions.html", {
        "commune": commune, "conventions": rows, "error": error, "typed": typed,
        "modules": Module.objects.filter(is_active=True),
        "inline": error is not None and (
            (target.startswith("create") and error.field in (
                "number", "starts_on", "ends_on", "mentions"))
            or (target.startswith("cost-") and error.field in cost_fields)),
        "history": BillingEvent.objects.filter(
            insee_code=commune.insee_code, code__startswith="convention.")[:50],
    }, status=error.http_status if error else 200)


@operator_required
@require_http_methods(["GET", "POST"])
def requests(request: HttpRequest) -> HttpResponse:
    """The communes' requests: the pending ones first, each accepted (the commune's
    modules change on the day it says) or refused with a message; then the others."""
    error: DomainError | None = None
    failed = ""
    if request.method == "POST":
        pk = request.POST.get("pk", "")
        found = get_object_or_404(SubscriptionRequest.objects.select_related("commune"),
                                  pk=int(pk) if pk.isdigit() and len(pk) < 10 else 0)
        decision = request.POST.get("decision", "")
        try:
            if decision not in ("accept", "refuse"):
                raise BillingError("Acceptez ou refusez la demande.")
            decided = services.subscription_decide(
                request=found, accept=decision == "accept",
                message=request.POST.get("message", "")[:600], by=account_id(request))
        except BillingError as exc:
            error, failed = exc, pk
        else:
            messages.success(request, f"Demande de {decided.commune.name} "
                                      f"{decided.get_status_display()} : {decided.describe()}.")
            return redirect("billing:requests")
    pending = SubscriptionRequest.objects.filter(
        status=SubscriptionRequest.Status.PENDING).select_related("commune", "module")
    done = SubscriptionRequest.objects.exclude(
        status=SubscriptionRequest.Status.PENDING).select_related("commune", "module")
    return render(request, "billing/requests.html", {
        "pending": pending, "page": paginate(request, done.order_by("-created_at")),
        "error": error, "failed": failed,
    }, status=error.http_status if error else 200)
