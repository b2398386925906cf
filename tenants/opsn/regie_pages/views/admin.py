"""The régies' administration, for the commune's administrator (who manages régies but
does not collect): founding act and its amendments, products, appointments, hand-over
(remise de service), stand-ins, merging two régies."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from opsn.accounts.auth import actor_of, commune_role_required
from opsn.agents.models import Role
from opsn.agents.selectors import commune_agents
from opsn.finance.models import Budget
from opsn.finance.selectors import current_fonctions, imputable_natures, principal_budget
from opsn.online_payments.models import Environment, PayfipAccount
from opsn.online_payments.services import payfip_configure
from opsn.regie_pages.forms import (
    AssignmentForm,
    EndForm,
    HandoverForm,
    ImputationForm,
    MergeForm,
    PayfipForm,
    ProductForm,
    RegieForm,
    StandInForm,
)
from opsn.regie_pages.views.common import amount_input, attach, page, regie_of, status_of
from opsn.regies import selectors
from opsn.regies.errors import RegieError
from opsn.regies.invoice_documents import formatted_iban
from opsn.regies.models import (
    Assignment,
    AssignmentRole,
    Invoice,
    InvoiceStatus,
    Payer,
    PaymentMode,
    Product,
    Regie,
)
from opsn.regies.services import founding
from opsn.regies.services.merge import regie_merge

admin_only = commune_role_required(Role.ADMINISTRATOR)
# The administration page holds several forms: each its own ids (labels point to the right
# input); the field names stay the same.
AUTO_ID = {"amend": "acte_%s", "product": "produit_%s", "appoint": "nomination_%s",
           "handover": "remise_%s", "standin": "remplacement_%s", "payfip": "payfip_%s",
           "imputation": "imputation_%s"}


def _agents() -> list[tuple[str, str]]:
    labels = dict(Role.choices)
    return [(account, f"{account} ({', '.join(sorted(labels[r] for r in roles))})")
            for account, roles in sorted(commune_agents().items())]


def _suppleants(regie: Regie) -> list[tuple[str, str]]:
    return [(a, a) for a in Assignment.objects.filter(
        regie=regie, role=AssignmentRole.SUPPLEANT, ends_on__isnull=True)
        .values_list("account", flat=True)]


def _founding_values(regie: Regie) -> dict:
    return {"name": regie.name, "founding_act": regie.founding_act,
            "accepted_modes": regie.accepted_modes,
            "cash_limit": amount_input(regie.cash_limit),
            "cash_float": amount_input(regie.cash_float),
            "deposit_period_days": regie.deposit_period_days, "accountant": regie.accountant,
            "ends_on": regie.ends_on, "iban": formatted_iban(regie.iban),
            "counter_hours": regie.counter_hours}


def _admin_page(request: HttpRequest, regie: Regie, *, status: int = 200,
                **bound) -> HttpResponse:
    """The administration page; a refused form comes back bound, the others fresh."""
    today = timezone.localdate()
    product = Product.objects.filter(regie=regie, code=request.GET.get("produit", "")).first()
    budgets = list(Budget.objects.all())
    forms = {
        "amend": RegieForm(initial=_founding_values(regie), amend=True,
                           auto_id=AUTO_ID["amend"]),
        "product": ProductForm(initial={"code": product.code, "name": product.name,
                                        "unit_price": amount_input(product.unit_price),
                                        "is_active": product.is_active,
                                        "nature": product.nature_id or "",
                                        "fonction": product.fonction_id or ""}
                               if product else None, auto_id=AUTO_ID["product"]),
        "imputation": ImputationForm(budgets=budgets, initial={
            "budget": str(regie.budget_id or ""), "nature": regie.nature_id or "",
            "fonction": regie.fonction_id or ""}, auto_id=AUTO_ID["imputation"]),
        "appoint": AssignmentForm(agents=_agents(), initial={"starts_on": today},
                                  auto_id=AUTO_ID["appoint"]),
        "handover": HandoverForm(agents=_agents(), initial={"on": today},
                                 auto_id=AUTO_ID["handover"]),
        "standin": StandInForm(suppleants=_suppleants(regie),
                               initial={"starts_on": today, "ends_on": today},
                               auto_id=AUTO_ID["standin"]),
    }
    payfip = PayfipAccount.objects.filter(regie=regie).first()
    forms["payfip"] = PayfipForm(
        initial={"numcli": payfip.numcli, "environment": payfip.environment,
                 "enabled": payfip.enabled} if payfip else
        {"environment": Environment.TEST, "enabled": True}, auto_id=AUTO_ID["payfip"])
    forms.update(bound)
    assignments = Assignment.objects.filter(regie=regie).order_by("ends_on", "role", "account")
    current = [a for a in assignments if a.ends_on is None or a.ends_on > today]
    return page(request, "regie_pages/admin.html", {
        "forms": forms, "editing": product,
        "products": Product.objects.filter(regie=regie).order_by("name"),
        "current": current, "past": [a for a in assignments if a not in current],
        "end_form": bound.get("end"), "end_id": bound.get("end_id"),
        "default_end": today, "handovers": regie.handovers.order_by("-on", "-id"),
        "stand_ins": regie.stand_ins.all(), "open": regie.is_open_on(today),
        "payfip": payfip, "accepts_online": PaymentMode.ONLINE in regie.accepted_modes,
        "budget": regie.budget or principal_budget(), "natures": imputable_natures(),
        "fonctions": current_fonctions(),
        # The refused form's errors are summarised at the top of the page.
        "failed": next((f for f in bound.values() if getattr(f, "errors", None)), None),
    }, status=status, regie=regie, section="admin")


@admin_only
@require_http_methods(["GET", "POST"])
def regie_new(request: HttpRequest) -> HttpResponse:
    form = RegieForm(request.POST or None, initial={
        "accepted_modes": ["cash", "cheque", "card"], "cash_float": "0",
        "deposit_period_days": "30", "starts_on": timezone.localdate()})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                regie = founding.regie_create(
                    actor=actor_of(request), number=data["number"], name=data["name"],
                    accepted_modes=data["accepted_modes"], cash_limit=data["cash_limit"],
                    cash_float=data["cash_float"] or "0",
                    deposit_period_days=data["deposit_period_days"],
                    accountant=data["accountant"], founding_act=data["founding_act"],
                    starts_on=data["starts_on"], ends_on=data["ends_on"])
            except RegieError as exc:
                attach(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, f"Régie {regie.number} {regie.name} créée. Nommez "
                                          "maintenant son régisseur titulaire.")
                return redirect("regie_pages:admin", regie.number)
        else:
            status = 400
    return page(request, "regie_pages/regie_new.html", {"form": form}, status=status,
                section="home")


@admin_only
def regie_admin(request: HttpRequest, number: str) -> HttpResponse:
    return _admin_page(request, regie_of(request, number))


def _act(request: HttpRequest, regie: Regie, name: str, form, call, done: str,
         aliases: dict | None = None) -> HttpResponse:
    """Validate ``form``, run the service; its refusal comes back next to the field."""
    if not form.is_valid():
        return _admin_page(request, regie, status=400, **{name: form})
    try:
        call(form.cleaned_data)
    except RegieError as exc:
        attach(form, exc, aliases)
        return _admin_page(request, regie, status=status_of(exc), **{name: form})
    messages.success(request, done)
    return redirect("regie_pages:admin", regie.number)


@admin_only
@require_POST
def regie_amend(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)

    def call(data):
        founding.regie_amend(regie=regie, actor=actor_of(request), **{
            **data, "cash_float": data["cash_float"] or "0"})

    form = RegieForm(request.POST, amend=True, auto_id=AUTO_ID["amend"])
    return _act(request, regie, "amend", form, call, "Acte constitutif modifié.")


@admin_only
@require_POST
def product_save(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    form = ProductForm(request.POST, auto_id=AUTO_ID["product"])
    return _act(request, regie, "product", form,
                lambda data: founding.product_save(regie=regie, actor=actor_of(request),
                                                   **data),
                f"Produit « {request.POST.get('name', '')} » enregistré.")


@admin_only
@require_POST
def assignment_grant(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    form = AssignmentForm(request.POST, agents=_agents(), auto_id=AUTO_ID["appoint"])
    return _act(request, regie, "appoint", form,
                lambda data: founding.assignment_grant(regie=regie, actor=actor_of(request),
                                                       **data),
                f"{request.POST.get('account', '')} est nommé(e) dans la régie.")


@admin_only
@require_POST
def assignment_end(request: HttpRequest, number: str, assignment_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    assignment = get_object_or_404(Assignment, regie=regie, pk=assignment_id)
    form = EndForm(request.POST, auto_id=f"fin-{assignment.pk}-%s")
    if form.is_valid():
        try:
            founding.assignment_end(assignment=assignment, actor=actor_of(request),
                                    ends_on=form.cleaned_data["ends_on"])
        except RegieError as exc:
            attach(form, exc)
        else:
            messages.success(request, f"Fin de la fonction de {assignment.account} le "
                                      f"{form.cleaned_data['ends_on']:%d/%m/%Y}.")
            return redirect("regie_pages:admin", regie.number)
    return _admin_page(request, regie, status=400, end=form, end_id=assignment.pk)


@admin_only
@require_POST
def handover(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    form = HandoverForm(request.POST, agents=_agents(), auto_id=AUTO_ID["handover"])
    return _act(request, regie, "handover", form,
                lambda data: founding.handover_record(regie=regie, actor=actor_of(request),
                                                      **data),
                f"Remise de service enregistrée : {request.POST.get('incoming', '')} est le "
                "régisseur titulaire.")


@admin_only
@require_POST
def standin(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    form = StandInForm(request.POST, suppleants=_suppleants(regie),
                       auto_id=AUTO_ID["standin"])
    return _act(request, regie, "standin", form,
                lambda data: founding.standin_record(regie=regie, actor=actor_of(request),
                                                     **data),
                "Remplacement enregistré : le suppléant arrête la caisse et verse pendant "
                "cette période.")


@admin_only
@require_POST
def payfip_save(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    form = PayfipForm(request.POST, auto_id=AUTO_ID["payfip"])
    done = ("Paiement en ligne ouvert : les usagers paient les factures de la régie depuis "
            "leur espace, par PayFiP." if request.POST.get("enabled") else
            "Paiement en ligne fermé : les paiements déjà commencés se terminent.")
    return _act(request, regie, "payfip", form,
                lambda data: payfip_configure(regie=regie, actor=actor_of(request), **data),
                done)


def _what_moves(absorbed: Regie) -> dict:
    """What the merge will move, read before asking for confirmation."""
    return {
        "products": list(Product.objects.filter(regie=absorbed).order_by("name")),
        "payers": Payer.objects.filter(regie=absorbed).count(),
        "invoices": Invoice.objects.filter(regie=absorbed, status__in=[
            InvoiceStatus.DUE, InvoiceStatus.PARTLY_PAID]).count(),
        "assignments": list(Assignment.objects.filter(regie=absorbed, ends_on__isnull=True)),
        "held": {m: a for m, a in selectors.holdings(absorbed).items() if a},
        "entries": absorbed.entries.count(),
    }


@admin_only
@require_http_methods(["GET", "POST"])
def merge(request: HttpRequest, number: str) -> HttpResponse:
    absorbed = regie_of(request, number)
    today = timezone.localdate()
    others = list(Regie.objects.exclude(pk=absorbed.pk).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gt=today)).order_by("number"))
    form = MergeForm(request.POST or None, regies=others, initial={"on": today})
    preview = surviving = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            surviving = next(r for r in others if r.number == form.cleaned_data["surviving"])
            if request.POST.get("confirm") == "1":
                try:
                    done = regie_merge(absorbed=absorbed, surviving=surviving,
                                       actor=actor_of(request), on=form.cleaned_data["on"])
                except RegieError as exc:
                    attach(form, exc)
                    status = status_of(exc)
                else:
                    moved = done.moved
                    messages.success(request, (
                        f"Régie {absorbed.number} fusionnée dans la régie {surviving.number} : "
                        f"{moved.get('products', 0)} produit(s), {moved.get('payers', 0)} "
                        f"payeur(s), {moved.get('invoices', 0)} facture(s) ouverte(s), "
                        f"{moved.get('assignments', 0)} nomination(s) repris(es)."))
                    return redirect("regie_pages:admin", surviving.number)
            preview = _what_moves(absorbed)
        else:
            status = 400
    return page(request, "regie_pages/merge.html", {
        "form": form, "preview": preview, "surviving": surviving, "absorbed": absorbed,
    }, status=status, regie=absorbed, section="admin")
