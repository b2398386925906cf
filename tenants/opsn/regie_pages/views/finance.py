"""The commune's finance pages: its budgets as the public accountant knows them
(administrator and finance staff), a régie's budget and default imputation
(administrator), and what is owed to a régie (its agents)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from opsn.accounts.auth import actor_of, commune_role_required
from opsn.agents.models import Role
from opsn.finance.acks import MAX_BYTES as ACK_MAX_BYTES
from opsn.finance.acks import ack_import, handover_cancel
from opsn.finance.errors import FinanceError
from opsn.finance.handover import handover_create, handover_preview
from opsn.finance.models import Budget, UnpaidHandover
from opsn.finance.services import budget_save
from opsn.kernel.money import euros
from opsn.regie_pages.forms import BudgetForm, ImputationForm
from opsn.regie_pages.views.admin import AUTO_ID, _act, admin_only
from opsn.regie_pages.views.common import AGENT_ROLES, download, page, parse_day, regie_of
from opsn.regies.exports import owed_csv, owed_ods
from opsn.regies.models import AGE_BUCKETS
from opsn.regies.owed import by_payer, past_due, summary
from opsn.regies.services.founding import regie_imputation_set

finance_staff = commune_role_required(Role.ADMINISTRATOR, Role.FINANCE)
PER_PAGE = 50
BUDGET_FIELDS = ("kind", "name", "siret", "collectivity_code", "budget_code", "post_code",
                 "post_name", "sender_code", "sender_address", "operator")


def _budgets_page(request: HttpRequest, form: BudgetForm, editing: Budget | None,
                  status: int = 200) -> HttpResponse:
    return page(request, "regie_pages/budgets.html", {
        "form": form, "editing": editing, "budgets": Budget.objects.order_by("-kind", "name"),
    }, status=status, section="budgets")


def _save(request: HttpRequest, budget: Budget | None) -> HttpResponse:
    form = BudgetForm(request.POST)
    if not form.is_valid():
        return _budgets_page(request, form, budget, status=400)
    try:
        saved = budget_save(actor=actor_of(request), budget=budget, **form.cleaned_data)
    except FinanceError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _budgets_page(request, form, budget, status=exc.http_status)
    messages.success(request, f"Budget « {saved.name} » enregistré.")
    return redirect("regie_pages:budgets")


@finance_staff
@require_http_methods(["GET", "POST"])
def budgets(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save(request, None)
    return _budgets_page(request, BudgetForm(), None)


@finance_staff
@require_http_methods(["GET", "POST"])
def budget_edit(request: HttpRequest, budget_id: int) -> HttpResponse:
    budget = get_object_or_404(Budget, pk=budget_id)
    if request.method == "POST":
        return _save(request, budget)
    return _budgets_page(request, BudgetForm(initial={f: getattr(budget, f)
                                                      for f in BUDGET_FIELDS}), budget)


@admin_only
@require_POST
def imputation_save(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    form = ImputationForm(request.POST, budgets=list(Budget.objects.all()),
                          auto_id=AUTO_ID["imputation"])

    def call(data):
        budget = Budget.objects.filter(pk=data["budget"]).first() if data["budget"] else None
        regie_imputation_set(regie=regie, actor=actor_of(request), budget=budget,
                             nature=data["nature"], fonction=data["fonction"])

    return _act(request, regie, "imputation", form, call,
                "Budget et imputation par défaut de la régie enregistrés.")


# --- What is owed --------------------------------------------------------------------------

def _on(request: HttpRequest):
    return parse_day(request.GET.get("au"), timezone.localdate())


@commune_role_required(*AGENT_ROLES)
def owed(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    on = _on(request)
    found = summary(regie, on)
    invoices = Paginator(past_due(regie, on), PER_PAGE).get_page(request.GET.get("page"))
    payers = Paginator(by_payer(regie, on), PER_PAGE).get_page(request.GET.get("payeurs"))
    return page(request, "regie_pages/owed.html", {
        "on": on, "found": found, "invoices": invoices,
        # The chart: one bar per bucket, 10 units high each (8 drawn), its length in %.
        "bars": [(b, max(share, 0.5), 10 * i) for i, (b, share) in enumerate(found.shares())],
        "chart_height": 10 * len(AGE_BUCKETS),
        "payers": payers, "bucket_labels": [label for _, label, *_rest in AGE_BUCKETS],
    }, regie=regie, section="owed")


@commune_role_required(*AGENT_ROLES)
def owed_export(request: HttpRequest, number: str, extension: str) -> HttpResponse:
    regie = regie_of(request, number)
    on = _on(request)
    name = f"impayes-{regie.number}-{on:%Y%m%d}.{extension}"
    if extension == "ods":
        return download(owed_ods(regie, on), name,
                        "application/vnd.oasis.opendocument.spreadsheet")
    return download(owed_csv(regie, on), name, "text/csv; charset=utf-8")


# --- Hand-over to the public accountant (PES V2) -------------------------------------------

def _handover_page(request: HttpRequest, regie, due_before, *, error: str = "",
                   status: int = 200, min_amount: str = "") -> HttpResponse:
    preview = None
    if due_before is not None and not error:
        try:
            preview = handover_preview(regie=regie, due_before=due_before,
                                       min_amount=min_amount or None)
        except FinanceError as exc:
            error, status = exc.message, exc.http_status
    done = (UnpaidHandover.objects.filter(regie=regie).select_related("budget")
            .order_by("-created_at"))
    return page(request, "regie_pages/handovers.html", {
        "due_before": due_before, "preview": preview, "error": error,
        "min_amount": min_amount,
        "shown": preview.invoices[:PER_PAGE] if preview else [],
        "handovers": Paginator(done, PER_PAGE).get_page(request.GET.get("page")),
    }, status=status, regie=regie, section="handovers")


@finance_staff
@require_http_methods(["GET", "POST"])
def handovers(request: HttpRequest, number: str) -> HttpResponse:
    """Choose the invoices past due before a day (and owing at least an amount), see how
    many and how much, confirm: the bordereau and its PES file are made (all or nothing),
    then downloaded below."""
    regie = regie_of(request, number)
    data = request.POST if request.method == "POST" else request.GET
    raw = data.get("due_before") if request.method == "POST" else data.get("echues_avant")
    least = (data.get("au_moins") or "").strip()[:30].replace(chr(0), "")
    due_before = parse_day(raw, None) if raw else None
    if raw and due_before is None:
        shown = raw[:20].replace(chr(0), "")
        return _handover_page(request, regie, None, status=400,
                              error=f"« {shown} » n'est pas une date (jj/mm/aaaa).")
    if request.method == "GET":
        return _handover_page(request, regie, due_before, min_amount=least)
    if due_before is None:
        return _handover_page(request, regie, None, status=400,
                              error="Donnez la date : les factures échues avant ce jour sont "
                                    "transmises.")
    try:
        done = handover_create(regie=regie, due_before=due_before, actor=actor_of(request),
                               min_amount=least or None)
    except FinanceError as exc:
        return _handover_page(request, regie, due_before, error=exc.message, status=400,
                              min_amount=least)
    messages.success(request, f"{done} transmis : {done.count} titre(s), "
                              f"{euros(done.total)}. Téléchargez le fichier PES ci-dessous, "
                              "à signer par l'ordonnateur.")
    return redirect("regie_pages:handovers", regie.number)


@finance_staff
def handover_file(request: HttpRequest, number: str, handover_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    done = get_object_or_404(UnpaidHandover, pk=handover_id, regie=regie)
    return download(bytes(done.file), done.file_name, "application/xml")


def _handover_detail(request: HttpRequest, regie, done: UnpaidHandover, *, error: str = "",
                     status: int = 200) -> HttpResponse:
    items = done.items.select_related("invoice__payer").order_by("piece")
    released = done.released.select_related("invoice__payer").order_by("piece")
    return page(request, "regie_pages/handover.html", {
        "handover": done, "error": error,
        "items": Paginator(items, PER_PAGE).get_page(request.GET.get("page")),
        "released": released[:PER_PAGE], "released_count": released.count(),
        "acks": done.acks.order_by("-received_at"),
        "may_cancel": done.state != "cancelled"
        and not done.items.filter(accepted_at__isnull=False).exists(),
        "ack_max_mb": ACK_MAX_BYTES // (1024 * 1024),
    }, status=status, regie=regie, section="handovers")


@finance_staff
def handover_detail(request: HttpRequest, number: str, handover_id: int) -> HttpResponse:
    """A bordereau: its state, its titres (accepted, awaiting, given back with the reason),
    the accountant's acknowledgements; import one, or cancel the bordereau before any titre
    is accepted."""
    regie = regie_of(request, number)
    done = get_object_or_404(UnpaidHandover, pk=handover_id, regie=regie)
    return _handover_detail(request, regie, done)


@finance_staff
@require_POST
def handover_ack(request: HttpRequest, number: str, handover_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    done = get_object_or_404(UnpaidHandover, pk=handover_id, regie=regie)
    upload = request.FILES.get("file")
    if upload is None:
        return _handover_detail(request, regie, done, status=400,
                                error="Choisissez le fichier d'accusé de réception (PES_ACK) "
                                      "reçu du comptable public.")
    if (upload.size or 0) > ACK_MAX_BYTES:
        return _handover_detail(request, regie, done, status=400,
                                error=f"Le fichier fait plus de {ACK_MAX_BYTES // 1048576} Mo "
                                      ": ce n'est pas un accusé de réception PES.")
    try:
        result = ack_import(handover=done, data=upload.read(), actor=actor_of(request),
                            file_name=(upload.name or "").replace(chr(0), "")[:200])
    except FinanceError as exc:
        return _handover_detail(request, regie, done, error=exc.message,
                                status=exc.http_status if exc.http_status != 200 else 400)
    if not result.changed:
        messages.info(request, "Cet accusé de réception était déjà importé : rien n'a changé.")
    else:
        messages.success(request, f"Accusé importé : {len(result.accepted)} titre(s) "
                                  f"accepté(s), {len(result.rejected)} rejeté(s)"
                                  + (" ; les factures rejetées sont de nouveau payables à la "
                                     "régie." if result.rejected else "."))
    return redirect("regie_pages:handover_detail", regie.number, done.pk)


@finance_staff
@require_POST
def handover_cancel_view(request: HttpRequest, number: str, handover_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    done = get_object_or_404(UnpaidHandover, pk=handover_id, regie=regie)
    try:
        handover_cancel(handover=done, actor=actor_of(request),
                        reason=request.POST.get("reason", "")[:1000])
    except FinanceError as exc:
        return _handover_detail(request, regie, done, error=exc.message,
                                status=exc.http_status if exc.http_status != 200 else 400)
    messages.success(request, f"{done} annulé : ses factures sont de nouveau payables à la "
                              "régie.")
    return redirect("regie_pages:handover_detail", regie.number, done.pk)
