"""SEPA direct debit on the régie's pages. A payer's mandates: an agent records a paper
mandate, amends its account (the RUM stays) or revokes it (after confirming). The régie's
creditor identity and DFT account; its collections, prepared for a date (what they would
take, then confirmed), listed, their pain.008 files downloaded. The full IBAN appears only
in the form that enters it; everywhere else its last four characters."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from opsn.accounts.auth import actor_of, commune_role_required
from opsn.direct_debit.banking import mask_iban
from opsn.direct_debit.booking import collection_confirm
from opsn.direct_debit.models import (
    Collection,
    Confirmation,
    Creditor,
    DebitReturn,
    Mandate,
    MandateKind,
)
from opsn.direct_debit.online import signed_online, signed_pdf
from opsn.direct_debit.returns import returns_import
from opsn.direct_debit.selectors import collection_preview, collections_of, debit_returns
from opsn.direct_debit.services import (
    collect,
    creditor_of,
    creditor_set,
    mandate_amend,
    mandate_record,
    mandate_revoke,
)
from opsn.kernel.errors import DomainError
from opsn.kernel.pages import paginate
from opsn.regie_pages.forms import DATE
from opsn.regie_pages.views.common import AGENT_ROLES, download, page, regie_of
from opsn.regies.errors import RegieError
from opsn.regies.models import Payer
from opsn.regies.services.imports import import_size_check


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
    confirm = forms.BooleanField(
        label="Je confirme : ce mandat ne sera plus jamais prélevé (un nouveau mandat devra "
              "être signé)",
        error_messages={"required": "Cochez la confirmation pour révoquer le mandat."})


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
        "payer": mandate.payer, "mandate": mandate,
        "debit_returns": debit_returns(mandate=mandate)[:50],
        "signed_online": signed_online(mandate),
        "amend_form": amend or AmendForm(),
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
                                 today=timezone.localdate(),
                                 reason=form.cleaned_data["reason"])
    except DomainError as exc:
        _attach(form, exc)
        return _mandate_page(request, regie, mandate, revoke=form, status=_status(exc))
    messages.success(request, f"Mandat {mandate.rum} révoqué : il ne sera plus prélevé.")
    return redirect("regie_pages:mandate", regie.number, payer_id, mandate.pk)


# --- The régie as creditor, and its collections --------------------------------------------

class CreditorForm(forms.Form):
    name = forms.CharField(label="Nom du créancier", max_length=70,
                           help_text="ce que les familles liront sur leur relevé bancaire")
    ics = forms.CharField(label="Identifiant créancier SEPA (ICS)", max_length=40,
                          help_text="13 caractères, FRkk ZZZ nnnnnn, donné par la Banque de "
                                    "France ou la DGFiP ; espaces permis")
    iban = forms.CharField(label="IBAN du compte DFT", max_length=60,
                           help_text="le compte de la régie au Trésor, où les prélèvements "
                                     "sont versés")
    bic = forms.CharField(label="BIC du compte DFT", max_length=20)


class CollectionForm(forms.Form):
    date = forms.DateField(label="Date d'échéance", widget=DATE,
                           help_text="un jour ouvré à venir : les factures dues à cette date "
                                     "sont prélevées")


class ReturnsForm(forms.Form):
    file = forms.FileField(
        label="Rapport de la banque (camt.054, XML)",
        error_messages={"required": "Choisissez le fichier camt.054 des prélèvements rejetés "
                                    "ou retournés, reçu de la banque.",
                        "empty": "Le fichier est vide : ce n'est pas un rapport camt.054."})

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:  # before the file is read (the service checks again: the command line's)
            import_size_check(upload.size)
        except RegieError as exc:
            raise forms.ValidationError(exc.message) from exc
        return upload


def _debit_page(request, regie, *, creditor_form=None, collection_form=None,
                returns_form=None, status=200):
    creditor = Creditor.objects.filter(regie=regie).first()
    return page(request, "regie_pages/direct_debit.html", {
        "returns_form": returns_form or ReturnsForm(),
        "recent_returns": debit_returns(regie=regie)[:20],
        "creditor": creditor,
        "creditor_form": creditor_form or CreditorForm(
            initial={"name": creditor.name, "ics": creditor.ics} if creditor
            else {"name": regie.name[:70]}),
        "collection_form": collection_form or CollectionForm(
            initial={"date": _next_weekday(timezone.localdate())}),
        "page_obj": paginate(request, collections_of(regie)),
    }, status=status, regie=regie, section="direct_debit")


def _next_weekday(day):
    day += datetime.timedelta(days=1)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return day


@commune_role_required(*AGENT_ROLES)
def debit_home(request: HttpRequest, number: str) -> HttpResponse:
    """The régie's direct debit: its creditor identity and account, a new collection, the
    collections already handed to the bank."""
    return _debit_page(request, regie_of(request, number))


@commune_role_required(*AGENT_ROLES)
@require_POST
def creditor_save(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    form = CreditorForm(request.POST)
    if not form.is_valid():
        return _debit_page(request, regie, creditor_form=form, status=400)
    try:
        creditor = creditor_set(regie=regie, actor=actor_of(request), **form.cleaned_data)
    except DomainError as exc:
        _attach(form, exc)
        return _debit_page(request, regie, creditor_form=form, status=_status(exc))
    messages.success(request, f"Créancier SEPA enregistré : ICS {creditor.ics}, compte "
                              f"{creditor.iban_masked}.")
    return redirect("regie_pages:direct_debit", regie.number)


@commune_role_required(*AGENT_ROLES)
@require_http_methods(["GET", "POST"])
def collection_new(request: HttpRequest, number: str) -> HttpResponse:
    """Prepare a collection: the date, then what it would take (counts and total), then
    the confirmation that writes the pain.008 file."""
    regie = regie_of(request, number)
    form = CollectionForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        return _debit_page(request, regie, collection_form=form, status=400)
    day = form.cleaned_data["date"]
    if request.method == "POST" and request.POST.get("confirm") == "1":
        try:
            collection = collect(regie=regie, collection_date=day, actor=actor_of(request),
                                 today=timezone.localdate())
        except DomainError as exc:
            _attach(form, exc)
            return _debit_page(request, regie, collection_form=form, status=_status(exc))
        messages.success(request, f"Remise {collection.message_id} du {day:%d/%m/%Y} écrite : "
                                  f"{collection.count} prélèvement(s). Téléchargez le fichier "
                                  "et transmettez-le à la banque.")
        return redirect("regie_pages:collection", regie.number, collection.pk)
    try:
        creditor_of(regie)
    except DomainError as exc:
        _attach(form, exc)
        return _debit_page(request, regie, collection_form=form, status=400)
    return page(request, "regie_pages/collection_new.html", {
        "form": form, "preview": collection_preview(regie, day),
    }, regie=regie, section="direct_debit")


@commune_role_required(*AGENT_ROLES)
@require_POST
def returns_upload(request: HttpRequest, number: str) -> HttpResponse:
    """The bank's camt.054 report of returned or rejected debits (``returns_import``, the
    command's and the API's): each return reverses its payment and reopens its invoice;
    what was ignored is said with why. A file that cannot be read changes nothing."""
    regie = regie_of(request, number)
    form = ReturnsForm(request.POST, request.FILES)
    if not form.is_valid():
        return _debit_page(request, regie, returns_form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        imported = returns_import(content=upload.read(), actor=actor_of(request),
                                  file_name=(upload.name or "").replace("\x00", "")[:200])
    except DomainError as exc:
        form.add_error("file", str(exc))
        return _debit_page(request, regie, returns_form=form,
                           status=exc.http_status if exc.http_status in (403, 409) else 400)
    returns = (DebitReturn.objects.filter(file=imported)
               .select_related("line", "line__invoice", "line__invoice__payer",
                               "line__collection__regie", "reversal").order_by("id"))
    return page(request, "regie_pages/debit_returns.html", {
        "imported": imported, "returns": returns,
    }, regie=regie, section="direct_debit")


def _collection(regie, collection_id: int) -> Collection:
    return get_object_or_404(Collection.objects.defer("xml"), regie=regie, pk=collection_id)


class ConfirmForm(forms.Form):
    credited_on = forms.DateField(
        label="Crédité le", widget=DATE,
        help_text="le jour où la banque a versé la remise sur le compte de la régie (par "
                  "défaut l'échéance) ; une journée de caisse arrêtée ne refuse rien : les "
                  "paiements vont au premier jour ouvert")
    confirm = forms.BooleanField(
        label="Je confirme : la banque a crédité cette remise (chaque prélèvement entre au "
              "journal de la régie, une fois)",
        error_messages={"required": "Cochez la confirmation pour enregistrer la remise."})


def _collection_page(request, regie, collection, *, confirm_form=None, status=200):
    lines = (collection.lines.select_related("invoice", "invoice__payer", "mandate")
             .order_by("id"))
    confirmation = Confirmation.objects.filter(collection=collection).first()
    return page(request, "regie_pages/collection.html", {
        "collection": collection, "page_obj": paginate(request, lines),
        "creditor_iban": mask_iban(collection.iban), "confirmation": confirmation,
        "confirm_form": confirm_form or ConfirmForm(
            initial={"credited_on": collection.collection_date}),
        "confirmable": collection.collection_date <= timezone.localdate(),
    }, status=status, regie=regie, section="direct_debit")


@commune_role_required(*AGENT_ROLES)
def collection_detail(request: HttpRequest, number: str, collection_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    return _collection_page(request, regie, _collection(regie, collection_id))


@commune_role_required(*AGENT_ROLES)
@require_POST
def collection_confirm_view(request: HttpRequest, number: str,
                            collection_id: int) -> HttpResponse:
    """The bank credited the collection: its debits enter the journal (``collection_confirm``,
    the command's and the API's), once."""
    regie = regie_of(request, number)
    collection = _collection(regie, collection_id)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return _collection_page(request, regie, collection, confirm_form=form, status=400)
    try:
        done = collection_confirm(collection=collection, actor=actor_of(request),
                                  credited_on=form.cleaned_data["credited_on"])
    except DomainError as exc:
        form.add_error("credited_on" if exc.field == "date" else None, exc.message)
        return _collection_page(request, regie, collection, confirm_form=form,
                                status=exc.http_status if exc.http_status in (403, 409)
                                else 400)
    messages.success(request, f"Remise {collection.message_id} confirmée : {done.count} "
                              f"prélèvement(s) enregistré(s) au journal, crédités le "
                              f"{done.credited_on:%d/%m/%Y}.")
    return redirect("regie_pages:collection", regie.number, collection.pk)


@commune_role_required(*AGENT_ROLES)
def collection_file(request: HttpRequest, number: str, collection_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    collection = get_object_or_404(Collection, regie=regie, pk=collection_id)
    return download(collection.xml.encode(), f"pain008-{regie.number}-"
                    f"{collection.collection_date:%Y-%m-%d}-{collection.pk}.xml",
                    "application/xml")


@commune_role_required(*AGENT_ROLES)
def mandate_signed_pdf(request: HttpRequest, number: str, payer_id: int,
                       mandate_id: int) -> HttpResponse:
    """The PDF the family was given when signing online, as it was kept."""
    regie = regie_of(request, number)
    mandate = _mandate(regie, payer_id, mandate_id)
    pdf = signed_pdf(mandate)
    if pdf is None:
        raise Http404("Ce mandat n'a pas été signé en ligne : pas de PDF signé.")
    return download(pdf, f"mandat-{mandate.rum}.pdf", "application/pdf")
