"""The operator's billing pages (console host)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.auth import operator_required
from billing.computation import BillingError, compute_year, format_euros
from billing.exports import write_preview_csv
from billing.models import PricingRule


@operator_required
def years(request: HttpRequest) -> HttpResponse:
    rules = PricingRule.objects.select_related("module").prefetch_related("brackets")
    by_year: dict[int, list[PricingRule]] = {}
    for rule in rules.order_by("-year", "module__position"):
        by_year.setdefault(rule.year, []).append(rule)
    return render(request, "billing/years.html", {"by_year": by_year})


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
        row["total_label"] = format_euros(row["total"])
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "billing/preview.html", {
        "year": year, "q": q, "page": page,
        "modules": [(m, format_euros(t)) for m, t in sorted(result.by_module().items())],
        "total": format_euros(result.total_cents()), "communes": len(by_commune),
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
