"""« Prélèvement » in the citizen's space: the mandates and debits to come of the linked
payers, signing a mandate online in three steps (the mandate's text and the account; a
confirmation showing the account by its last four characters; the signed mandate and its
PDF); revoking an active mandate (what happens, an optional reason, a confirmation);
changing its account in two steps (the IBAN and BIC; the account by its last four
characters and the person's agreement). Thin views over ``citizens.debits``. Between two
steps the account typed waits in the server-side session, never in the page."""

from __future__ import annotations

import io
from typing import cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from opsn.accounts.auth import signed_in_required, subject_of
from opsn.citizens import debits
from opsn.citizens.errors import CitizenError, NotLinked
from opsn.direct_debit.banking import mask_iban
from opsn.kernel.addresses import client_ip


def _key(commune_id: int, payer_id: int) -> str:
    return f"sepa-mandate:{commune_id}:{payer_id}"


@signed_in_required
def debit_overview(request: HttpRequest) -> HttpResponse:
    return render(request, "citizens/debits.html", {
        "payers": debits.overview(subject_of(request))})


def _offer(request: HttpRequest, commune_id: int, payer_id: int):
    try:
        return debits.mandate_offer(subject_of(request), commune_id, payer_id)
    except NotLinked as exc:
        raise Http404(exc.message) from exc


@signed_in_required
@require_http_methods(["GET", "POST"])
def mandate_new(request: HttpRequest, commune_id: int, payer_id: int) -> HttpResponse:
    """Step 1: the mandate's text, the account holder, IBAN and BIC."""
    try:
        offer = _offer(request, commune_id, payer_id)
    except CitizenError as exc:
        messages.error(request, exc.message)
        return redirect("citizens:debits")
    user = cast(User, request.user)
    typed = {"debtor_name": user.get_full_name()[:70], "iban": "", "bic": ""}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        typed = {k: request.POST.get(k, "") for k in typed}
        try:
            prepared = debits.mandate_check(subject_of(request), commune_id, payer_id,
                                            **typed)
        except CitizenError as exc:
            errors[exc.field if exc.field in typed else "iban"] = exc.message
            status = exc.http_status if exc.http_status in (400, 409) else 400
        else:
            request.session[_key(commune_id, payer_id)] = prepared
            return redirect("citizens:mandate_confirm", commune_id, payer_id)
    return render(request, "citizens/mandate_new.html", {
        "offer": offer, "typed": typed, "errors": errors, "commune_id": commune_id,
        "payer_id": payer_id}, status=status)


@signed_in_required
@require_http_methods(["GET", "POST"])
def mandate_confirm(request: HttpRequest, commune_id: int, payer_id: int) -> HttpResponse:
    """Step 2: what will be signed, the account by its last four characters; the person
    ticks their agreement and signs."""
    prepared = request.session.get(_key(commune_id, payer_id))
    if not prepared:
        return redirect("citizens:mandate_new", commune_id, payer_id)
    try:
        offer = _offer(request, commune_id, payer_id)
    except CitizenError as exc:
        messages.error(request, exc.message)
        return redirect("citizens:debits")
    error = ""
    status = 200
    if request.method == "POST":
        if request.POST.get("accept") != "1":
            error = ("Cochez la case pour accepter le mandat : sans votre accord, rien n'est "
                     "signé.")
            status = 400
        else:
            user = cast(User, request.user)
            signer = user.get_full_name() or user.email or "l'usager"
            try:
                rum, _ = debits.mandate_sign(subject_of(request), commune_id, payer_id,
                                             prepared=prepared, signer=signer,
                                             ip=client_ip(request))
            except CitizenError as exc:
                request.session.pop(_key(commune_id, payer_id), None)
                messages.error(request, exc.message)
                return redirect("citizens:debits")
            request.session.pop(_key(commune_id, payer_id), None)
            messages.success(request, f"Mandat {rum} signé : les factures de "
                                      f"{offer.regie_name} seront prélevées sur le compte "
                                      f"{mask_iban(prepared['iban'])} à leur échéance. Son PDF "
                                      "est à télécharger ci-dessous.")
            return redirect("citizens:debits")
    return render(request, "citizens/mandate_confirm.html", {
        "offer": offer, "prepared": prepared, "iban": mask_iban(prepared["iban"]),
        "error": error, "commune_id": commune_id, "payer_id": payer_id}, status=status)


@signed_in_required
def mandate_pdf(request: HttpRequest, commune_id: int, mandate_id: int) -> FileResponse:
    try:
        rum, pdf = debits.mandate_pdf_for(subject_of(request), commune_id, mandate_id)
    except NotLinked as exc:
        raise Http404(exc.message) from exc
    return FileResponse(io.BytesIO(pdf), as_attachment=True, filename=f"mandat-{rum}.pdf",
                        content_type="application/pdf")


def _amend_key(commune_id: int, mandate_id: int) -> str:
    return f"sepa-amend:{commune_id}:{mandate_id}"


def _signer(request: HttpRequest) -> str:
    user = cast(User, request.user)
    return user.get_full_name() or user.email or "l'usager"


def _view(request: HttpRequest, commune_id: int, mandate_id: int):
    try:
        return debits.mandate_view(subject_of(request), commune_id, mandate_id)
    except NotLinked as exc:
        raise Http404(exc.message) from exc


@signed_in_required
@require_http_methods(["GET", "POST"])
def mandate_revoke(request: HttpRequest, commune_id: int, mandate_id: int) -> HttpResponse:
    """What revoking means (a debit sent to the bank may still be taken), an optional
    reason; on confirmation the mandate is revoked."""
    try:
        mandate = _view(request, commune_id, mandate_id)
    except CitizenError as exc:
        messages.error(request, exc.message)
        return redirect("citizens:debits")
    reason, error, status = "", "", 200
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            rum = debits.mandate_revoke(subject_of(request), commune_id, mandate_id,
                                        reason=reason, signer=_signer(request),
                                        ip=client_ip(request))
        except NotLinked as exc:
            raise Http404(exc.message) from exc
        except CitizenError as exc:
            if exc.http_status == 409:
                messages.error(request, exc.message)
                return redirect("citizens:debits")
            error, status = exc.message, 400
            reason = reason.replace("\x00", "")
        else:
            messages.success(request, f"Mandat {rum} révoqué : aucun nouveau prélèvement ne "
                                      f"sera fait sur le compte {mandate.iban}. Les factures "
                                      "à venir se paient autrement.")
            return redirect("citizens:debits")
    return render(request, "citizens/mandate_revoke.html", {
        "mandate": mandate, "reason": reason, "error": error}, status=status)


@signed_in_required
@require_http_methods(["GET", "POST"])
def mandate_account(request: HttpRequest, commune_id: int, mandate_id: int) -> HttpResponse:
    """Step 1 of a change of account: the new IBAN and BIC."""
    try:
        mandate = _view(request, commune_id, mandate_id)
    except CitizenError as exc:
        messages.error(request, exc.message)
        return redirect("citizens:debits")
    typed = {"iban": "", "bic": ""}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        typed = {k: request.POST.get(k, "").replace("\x00", "") for k in typed}
        raw = {k: request.POST.get(k, "") for k in typed}
        try:
            prepared = debits.amend_check(subject_of(request), commune_id, mandate_id, **raw)
        except NotLinked as exc:
            raise Http404(exc.message) from exc
        except CitizenError as exc:
            errors[exc.field if exc.field in typed else "iban"] = exc.message
            status = exc.http_status if exc.http_status in (400, 409) else 400
        else:
            request.session[_amend_key(commune_id, mandate_id)] = prepared
            return redirect("citizens:mandate_account_confirm", commune_id, mandate_id)
    return render(request, "citizens/mandate_account.html", {
        "mandate": mandate, "typed": typed, "errors": errors}, status=status)


@signed_in_required
@require_http_methods(["GET", "POST"])
def mandate_account_confirm(request: HttpRequest, commune_id: int,
                            mandate_id: int) -> HttpResponse:
    """Step 2: the new account by its last four characters; the person agrees."""
    key = _amend_key(commune_id, mandate_id)
    prepared = request.session.get(key)
    if not prepared:
        return redirect("citizens:mandate_account", commune_id, mandate_id)
    try:
        mandate = _view(request, commune_id, mandate_id)
    except CitizenError as exc:
        request.session.pop(key, None)
        messages.error(request, exc.message)
        return redirect("citizens:debits")
    error, status = "", 200
    if request.method == "POST":
        if request.POST.get("accept") != "1":
            error = ("Cochez la case pour confirmer le changement : sans votre accord, rien "
                     "n'est modifié.")
            status = 400
        else:
            try:
                rum, iban = debits.mandate_amend(subject_of(request), commune_id, mandate_id,
                                                 prepared=prepared, signer=_signer(request),
                                                 ip=client_ip(request))
            except CitizenError as exc:
                request.session.pop(key, None)
                messages.error(request, exc.message)
                return redirect("citizens:debits")
            request.session.pop(key, None)
            messages.success(request, f"Mandat {rum} modifié : les prochains prélèvements se "
                                      f"feront sur le compte {iban}. La référence du mandat "
                                      "reste la même.")
            return redirect("citizens:debits")
    return render(request, "citizens/mandate_account_confirm.html", {
        "mandate": mandate, "prepared": prepared, "iban": mask_iban(prepared["iban"]),
        "error": error}, status=status)
