"""A payer's SEPA direct debit mandates: an agent records a paper mandate, amends its
account (the RUM stays) or revokes it. The full IBAN appears only in the form that enters
it; everywhere else its last four characters."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from opsn.accounts.auth import actor_of, commune_role_required
from opsn.direct_debit.models import Creditor, Mandate, MandateKind
from opsn.direct_debit.services import mandate_amend, mandate_record, mandate_revoke
from opsn.kernel.errors import DomainError
from opsn.regie_pages.forms import DATE
from opsn.regie_pages.views.common import AGENT_ROLES, page, regie_of
from opsn.regies.models import Payer


class MandateForm(forms.Form):
    debtor_name = forms.CharField(label="Titulaire du compte", max_length=70)
    iban = forms.CharField(label="IBAN", max_length=60,
                           help_text="tel qu'il figure sur le mandat signé, espaces permis")
    bic = forms.CharField(label="BIC", max_length=20)
    signed_on = forms.DateField(label="Signé le", widget=DATE)
    kind = forms.ChoiceField(label="Type de mandat", choices=MandateKind.choices,
                             initial=MandateKind.RECURRENT)


class AmendForm(forms.Form):
    iban = forms.CharField(label="Nouvel IBAN", max_length=60)
    bic = forms.CharField(label="Nouveau BIC", max_length=20)


class RevokeForm(forms.Form):
    reason = forms.CharField(label="Motif de la révocation", max_length=300)


def _attach(form: forms.Form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _status(exc: DomainError) -> int:
    return 403 if exc.http_status == 403 else 400


@commune_role_required(*AGENT_ROLES)
@require_http_methods(["GET", "POST"])
def mandate_new(request: HttpRequest, number: str, payer_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    payer = get_object_or_404(Payer, regie=regie, pk=payer_id)
    form = MandateForm(request.POST or None, initial={"debtor_name": payer.name[:70]})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                mandate = mandate_record(payer=payer, actor=actor_of(request),
                                         today=timezone.localdate(), **form.cleaned_data)
            except DomainError as exc:
                _attach(form, exc)
                status = _status(exc)
            else:
                messages.success(request, f"Mandat {mandate.rum} enregistré (compte "
                                          f"{mandate.iban_masked}).")
                return redirect("regie_pages:payer", regie.number, payer.pk)
        else:
            status = 400
    return page(request, "regie_pages/mandate_new.html", {
        "payer": payer, "form": form, "creditor": Creditor.objects.filter(regie=regie).first(),
    }, status=status, regie=regie, section="payers")


def _mandate_page(request, regie, mandate, *, amend=None, revoke=None, status=200):
    return page(request, "regie_pages/mandate.html", {
        "payer": mandate.payer, "mandate": mandate, "amend_form": amend or AmendForm(),
        "revoke_form": revoke or RevokeForm()}, status=status, regie=regie, section="payers")


def _mandate(regie, payer_id: int, mandate_id: int) -> Mandate:
    return get_object_or_404(Mandate.objects.select_related("payer"), regie=regie,
                             payer_id=payer_id, pk=mandate_id)


@commune_role_required(*AGENT_ROLES)
def mandate_detail(request: HttpRequest, number: str, payer_id: int,
                   mandate_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    return _mandate_page(request, regie, _mandate(regie, payer_id, mandate_id))


@commune_role_required(*AGENT_ROLES)
@require_POST
def mandate_change(request: HttpRequest, number: str, payer_id: int,
                   mandate_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    mandate = _mandate(regie, payer_id, mandate_id)
    form = AmendForm(request.POST)
    if not form.is_valid():
        return _mandate_page(request, regie, mandate, amend=form, status=400)
    try:
        mandate = mandate_amend(mandate=mandate, actor=actor_of(request),
                                today=timezone.localdate(), **form.cleaned_data)
    except DomainError as exc:
        _attach(form, exc)
        return _mandate_page(request, regie, mandate, amend=form, status=_status(exc))
    messages.success(request, f"Mandat {mandate.rum} modifié : nouveau compte "
                              f"{mandate.iban_masked}, la référence reste la même.")
    return redirect("regie_pages:mandate", regie.number, payer_id, mandate.pk)


@commune_role_required(*AGENT_ROLES)
@require_POST
def mandate_end(request: HttpRequest, number: str, payer_id: int,
                mandate_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    mandate = _mandate(regie, payer_id, mandate_id)
    form = RevokeForm(request.POST)
    if not form.is_valid():
        return _mandate_page(request, regie, mandate, revoke=form, status=400)
    try:
        mandate = mandate_revoke(mandate=mandate, actor=actor_of(request),
                                 today=timezone.localdate(), **form.cleaned_data)
    except DomainError as exc:
        _attach(form, exc)
        return _mandate_page(request, regie, mandate, revoke=form, status=_status(exc))
    messages.success(request, f"Mandat {mandate.rum} révoqué : il ne sera plus prélevé.")
    return redirect("regie_pages:mandate", regie.number, payer_id, mandate.pk)
