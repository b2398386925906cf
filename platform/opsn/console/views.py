from __future__ import annotations

import csv

from django.conf import settings
from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from opsn.accounts.auth import operator_required
from opsn.communes import archive, services
from opsn.communes.errors import InvalidState, RegistryError
from opsn.communes.models import Commune, CommuneArchive, CommuneModule, Module, OnboardingBatch
from opsn.communes.routing import request_host
from opsn.communes.selectors import communes_search, latest_population, registry_totals
from opsn.communes.tasks import run_onboarding_batch
from opsn.console.forms import (
    BatchForm,
    BillingForm,
    DomainForm,
    ModulesForm,
    OffboardForm,
    OnboardForm,
    SuspendForm,
)
from opsn.jobs.broker import send
from opsn.kernel.pages import paginate
from opsn.kernel.urls import public_url
from opsn.public_service.statistics import CSV_HEADER, csv_rows, latest, published


def home(request: HttpRequest) -> HttpResponse:
    """The console on the console host; the operator's public portal on the others."""
    if request_host(request) == settings.OPSN_CONSOLE_HOST:
        return redirect("console:communes")
    communes = Commune.objects.filter(status=Commune.Status.ACTIVE).prefetch_related("domains")
    return render(request, "console/portal.html", {"communes": [
        (c.name, public_url(c.primary_domain)) for c in communes if c.primary_domain]})


@operator_required
def commune_list(request: HttpRequest) -> HttpResponse:
    filters = {k: request.GET.get(k, "") for k in ("q", "status", "module", "departement",
                                                   "epci")}
    return render(request, "console/communes.html", {
        "page": paginate(request, communes_search(**filters)), "filters": filters,
        "modules": Module.objects.all(), "statuses": Commune.Status.choices,
        "totals": registry_totals(),
    })


def _fail(request: HttpRequest, exc: RegistryError, form=None) -> None:
    messages.error(request, exc.message)
    if form is not None:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@operator_required
@require_http_methods(["GET", "POST"])
def commune_onboard(request: HttpRequest) -> HttpResponse:
    """Two steps: the form, then a confirmation that says what will be created (checked by
    the same refusals as the onboarding itself); only a POST carrying ``confirmed`` and
    the same values onboards."""
    form = OnboardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        values = {"insee_code": form.cleaned_data["insee_code"],
                  "modules": form.cleaned_data["modules"], "custom_domains": form.domains(),
                  "admin_email": form.cleaned_data["admin_email"] or None,
                  "database": form.cleaned_data.get("database") or None}
        try:
            plan = services.onboarding_plan(**values)
            if request.POST.get("confirmed") != plan.insee_code:
                return render(request, "console/onboard.html", {"form": form, "plan": plan})
            commune = services.commune_onboard(**values)
        except RegistryError as exc:
            _fail(request, exc, form)
            return render(request, "console/onboard.html", {"form": form}, status=exc.http_status)
        messages.success(request, f"{commune.name} est accueillie : {commune.primary_domain}.")
        return redirect("console:commune", insee_code=commune.insee_code)
    return render(request, "console/onboard.html", {"form": form},
                  status=400 if form.errors else 200)


@operator_required
@require_http_methods(["GET", "POST"])
def batch_new(request: HttpRequest) -> HttpResponse:
    form = BatchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            epci_siren = form.cleaned_data["epci_siren"].strip()
            values = {"epci_siren": epci_siren,
                      "insee_codes": [] if epci_siren else form.codes(),
                      "modules": form.cleaned_data["modules"]}
            plan = services.batch_plan(**values)
            if request.POST.get("confirmed") != str(len(plan.new)):
                return render(request, "console/batch_new.html", {"form": form, "plan": plan})
            batch = services.batch_prepare(**values)
        except RegistryError as exc:
            _fail(request, exc, form)
            return render(request, "console/batch_new.html", {"form": form},
                          status=exc.http_status)
        send(run_onboarding_batch, str(batch.pk))
        return redirect("console:batch", pk=batch.pk)
    return render(request, "console/batch_new.html", {"form": form},
                  status=400 if form.errors else 200)


@operator_required
def batch_detail(request: HttpRequest, pk) -> HttpResponse:
    batch = get_object_or_404(OnboardingBatch, pk=pk)
    return render(request, "console/batch.html", {"batch": batch})


@operator_required
@require_POST
def batch_resume(request: HttpRequest, pk) -> HttpResponse:
    batch = get_object_or_404(OnboardingBatch, pk=pk)
    send(run_onboarding_batch, str(batch.pk))
    messages.success(request, "Reprise de l'accueil des communes restantes.")
    return redirect("console:batch", pk=batch.pk)


def _commune(insee_code: str) -> Commune:
    return get_object_or_404(
        Commune.objects.annotate(population=latest_population()), insee_code=insee_code)


@operator_required
def commune_detail(request: HttpRequest, insee_code: str, *,
                   billing_form: BillingForm | None = None) -> HttpResponse:
    commune = _commune(insee_code)
    billing_form = billing_form or BillingForm(
        initial={name: getattr(commune, name) for name in Commune.BILLING_FIELDS})
    return render(request, "console/commune.html", {
        "c": commune, "billing_form": billing_form,
        "suspend_form": SuspendForm(), "domain_form": DomainForm(),
        "offboard_form": OffboardForm(commune=commune),
        "modules_form": ModulesForm(initial={"modules": list(
            commune.communemodule_set.current().values_list("module_id", flat=True))}),
        "archives": CommuneArchive.objects.filter(insee_code=insee_code),
    })


def _action(request: HttpRequest, insee_code: str, action, success: str) -> HttpResponse:
    commune = _commune(insee_code)
    try:
        action(commune)
    except RegistryError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success.format(name=commune.name))
    return redirect("console:commune", insee_code=insee_code)


@operator_required
@require_POST
def commune_suspend(request: HttpRequest, insee_code: str) -> HttpResponse:
    """Two steps: the reason, then a confirmation that says what suspending does."""
    commune = _commune(insee_code)
    raw = request.POST.get("reason", "")
    if request.POST.get("confirmed") != commune.insee_code:
        try:
            reason = services.clean_reason(raw)
            if commune.is_suspended:
                raise InvalidState(f"{commune.name} est déjà suspendue.")
        except RegistryError as exc:
            messages.error(request, exc.message)
            return redirect("console:commune", insee_code=insee_code)
        return render(request, "console/suspend_confirm.html", {
            "c": commune, "reason": reason,
            "domains": list(commune.domains.order_by("-is_primary", "domain")
                            .values_list("domain", flat=True)),
            "modules": list(commune.communemodule_set.current()
                            .values_list("module__name", flat=True))})
    return _action(request, insee_code,
                   lambda c: services.commune_suspend(commune=c, reason=raw),
                   "{name} est suspendue : ses sites affichent « service suspendu ».")


@operator_required
@require_POST
def commune_resume(request: HttpRequest, insee_code: str) -> HttpResponse:
    return _action(request, insee_code, lambda c: services.commune_resume(commune=c),
                   "{name} est de nouveau en service.")


@operator_required
@require_POST
def domain_add(request: HttpRequest, insee_code: str) -> HttpResponse:
    form = DomainForm(request.POST)
    domain = form.cleaned_data["domain"] if form.is_valid() else ""
    return _action(request, insee_code, lambda c: services.domain_add(commune=c, domain=domain),
                   f"Domaine « {domain.strip().lower()} » ajouté à {{name}}.")


@operator_required
@require_POST
def domain_remove(request: HttpRequest, insee_code: str) -> HttpResponse:
    domain = request.POST.get("domain", "")
    return _action(request, insee_code,
                   lambda c: services.domain_remove(commune=c, domain=domain),
                   f"Domaine « {domain} » retiré de {{name}}.")


@operator_required
@require_POST
def modules_set(request: HttpRequest, insee_code: str) -> HttpResponse:
    form = ModulesForm(request.POST)
    chosen = form.cleaned_data["modules"] if form.is_valid() else []
    return _action(request, insee_code,
                   lambda c: services.commune_set_modules(commune=c, modules=chosen),
                   "Modules de {name} enregistrés.")


@operator_required
@require_POST
def commune_billing(request: HttpRequest, insee_code: str) -> HttpResponse:
    """The commune's Chorus Pro routing; a refusal shows next to its field, nothing saved."""
    commune = _commune(insee_code)
    form = BillingForm(request.POST)
    if form.is_valid():
        try:
            services.commune_set_billing(commune=commune, **form.cleaned_data)
        except RegistryError as exc:
            _fail(request, exc, form)
        else:
            messages.success(request, f"Facturation Chorus Pro de {commune.name} enregistrée : "
                                      "les prochains titres la porteront.")
            return redirect("console:commune", insee_code=insee_code)
    return commune_detail(request, insee_code, billing_form=form)


@operator_required
@require_POST
def commune_offboard(request: HttpRequest, insee_code: str) -> HttpResponse:
    commune = _commune(insee_code)
    form = OffboardForm(request.POST, commune=commune)
    if not form.is_valid():
        messages.error(request, "Départ non confirmé : "
                       + " ".join(str(e) for e in form.errors["confirm"]))
        return redirect("console:commune", insee_code=insee_code)
    try:
        record = archive.commune_offboard(commune=commune)
    except RegistryError as exc:
        messages.error(request, f"Départ annulé, rien n'a été supprimé : {exc.message}")
        return redirect("console:commune", insee_code=insee_code)
    messages.success(request, f"{commune.name} a quitté la plateforme. Archive : {record.path}")
    return redirect("console:archives")


@operator_required
def archives(request: HttpRequest) -> HttpResponse:
    return render(request, "console/archives.html",
                  {"archives": CommuneArchive.objects.all()[:200]})


def statistics(request: HttpRequest) -> HttpResponse:
    """Public impact indicators (no sign-in), as the digital commons publish them: the
    daily job's figures, small counts hidden (``public_service.statistics``)."""

    data = published(latest().figures)
    modules = (CommuneModule.objects.current().filter(commune__status=Commune.Status.ACTIVE)
               .values_list("module__name").annotate(n=Count("id")).order_by("-n"))
    return render(request, "console/statistics.html", {
        "data": data, "chart": statistics_chart(data), "modules": list(modules)})


def statistics_json(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(published(latest().figures),
                            json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["Content-Disposition"] = 'inline; filename="statistiques-opsn.json"'
    return response


def statistics_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="statistiques-opsn.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(published(latest().figures)))
    return response


CHART_ROW = 26  # one horizontal bar per month: readable at a phone's width
CHART_BAR_MAX = 220
MONTH_NAMES = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.",
               "oct.", "nov.", "déc.")


def statistics_chart(data: dict) -> dict:
    """Horizontal bars of the SVG chart: payments per month, the online part darker. A
    month whose count is hidden draws no bar (its value says « < 5 »)."""
    counts = [m["count"] or 0 for m in data["months"]]
    top = max(counts, default=0) or 1
    bars = []
    for i, month in enumerate(data["months"]):
        count, online = month["count"] or 0, month["online_count"] or 0
        width = round(count * CHART_BAR_MAX / top)
        year, number = month["month"].split("-")
        bars.append({"y": 10 + i * CHART_ROW, "text_y": 10 + i * CHART_ROW + 15,
                     "width": width, "online_width": round(online * CHART_BAR_MAX / top),
                     "value_x": 78 + width + 6,
                     "label": f"{MONTH_NAMES[int(number) - 1]} {year}",
                     "value": "< 5" if month["count"] is None else month["count"]})
    return {"bars": bars, "width": 78 + CHART_BAR_MAX + 60, "row": CHART_ROW - 6,
            "height": 20 + len(bars) * CHART_ROW}
