"""The citizen's space, on the operator's portal and on every commune's site: « Mes
paiements » across communes, linking payer records, receipts. Thin views over
``citizens.services`` and ``citizens.statement``."""

from __future__ import annotations

import io
from typing import cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from opsn.accounts.auth import signed_in_required, subject_of
from opsn.citizens import services
from opsn.citizens.errors import CitizenError, NotLinked
from opsn.citizens.online import online_payment_begin, online_payment_outcome
from opsn.citizens.personal_data import personal_data
from opsn.citizens.personal_data_document import citizen_pdf
from opsn.citizens.statement import (
    MODE_LABELS,
    STATUS_LABELS,
    Filters,
    certificate_pdf_for,
    invoice_pdf_for,
    receipt_pdf_for,
    statement,
)
from opsn.communes.models import Commune
from opsn.kernel.addresses import client_ip
from opsn.kernel.urls import public_url, request_domain


def _int(value: str) -> int | None:
    return int(value) if value and value.isdigit() else None


@signed_in_required
def payments(request: HttpRequest) -> HttpResponse:
    subject = subject_of(request)
    query = request.GET
    filters = Filters(commune=_int(query.get("commune", "")), regie=query.get("regie", ""),
                      year=_int(query.get("annee", "")), mode=query.get("mode", ""),
                      status=query.get("statut", ""))
    error = ""
    try:
        mine = statement(subject, filters)
    except CitizenError as exc:
        error, mine = exc.message, statement(subject)
    linked = {link.commune for link in mine.links}
    return render(request, "citizens/payments.html", {
        "statement": mine, "filters": filters, "error": error,
        "communes": sorted(linked, key=lambda c: c.name),
        "modes": list(MODE_LABELS.items()), "statuses": list(STATUS_LABELS.items()),
    }, status=400 if error else 200)


def _email(request: HttpRequest) -> str:
    """The address the identity provider vouches for (it is in the signed ID token)."""
    return getattr(request.user, "email", "") or ""


def _here(request: HttpRequest) -> Commune | None:
    return getattr(request, "commune", None)


@signed_in_required
def links(request: HttpRequest) -> HttpResponse:
    """The payer records linked to the account, and the forms that link more."""
    subject = subject_of(request)
    here = _here(request)
    errors: dict[str, str] = {}
    status = 200
    typed = {"code": "", "commune": str(here.pk) if here else ""}
    if request.method == "POST":
        typed = {"code": request.POST.get("code", ""),
                 "commune": request.POST.get("commune", typed["commune"])}
        commune = here or Commune.objects.filter(pk=_int(typed["commune"]),
                                                 status=Commune.Status.ACTIVE).first()
        if commune is None:
            errors["commune"] = "Choisissez la commune qui vous a envoyé la facture."
            status = 400
        else:
            try:
                link = services.payer_link_by_code(subject=subject, commune=commune,
                                                   code=typed["code"], ip=client_ip(request))
            except CitizenError as exc:
                errors[exc.field or "code"] = exc.message
                status = 429 if exc.http_status == 429 else 400
            else:
                messages.success(request, f"{link.payer_name} ({commune.name}) est rattaché à "
                                          "votre compte : ses factures et paiements sont dans "
                                          "« Mes paiements ».")
                return redirect("citizens:links")
    mine = services.links_of(subject)
    linked_here = {link.payer_id for link in mine if here and link.commune_id == here.pk}
    by_email = ([p for p in services.payers_with_email(here, _email(request))
                 if p["id"] not in linked_here] if here else [])
    return render(request, "citizens/links.html", {
        "links": mine, "errors": errors, "typed": typed, "here": here, "by_email": by_email,
        "years": certificate_years(),
        "communes": [] if here else Commune.objects.filter(status=Commune.Status.ACTIVE)
        .order_by("name"),
    }, status=status)


@signed_in_required
@require_POST
def link_by_email(request: HttpRequest) -> HttpResponse:
    here = _here(request)
    if here is None:
        raise Http404("Rattachement par adresse électronique : depuis le site de la commune.")
    try:
        link = services.payer_link_by_email(subject=subject_of(request), commune=here,
                                            payer_id=_int(request.POST.get("payer", "")) or 0,
                                            verified_email=_email(request))
    except CitizenError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{link.payer_name} est rattaché à votre compte.")
    return redirect("citizens:links")


@signed_in_required
@require_POST
def unlink(request: HttpRequest, link_id: int) -> HttpResponse:
    try:
        link = services.payer_unlink(subject=subject_of(request), link_id=link_id)
    except NotLinked as exc:
        raise Http404(exc.message) from exc
    messages.success(request, f"{link.payer_name} n'est plus rattaché à votre compte.")
    return redirect("citizens:links")


@signed_in_required
@require_POST
def pay_online(request: HttpRequest, commune_id: int, invoice_id: int) -> HttpResponse:
    """« Payer en ligne »: start the payment, send the browser to PayFiP's page."""

    # Given to PayFiP: built from the public base, never from the Host header's port.
    def notify_url_for(commune: Commune) -> str:
        return public_url(commune.primary_domain or "",
                          reverse("online_payments:notification", urlconf="opsn.urls_commune"))

    def return_url_for(payment_id: int) -> str:
        return public_url(request_domain(request),
                          reverse("citizens:online_payment", args=[commune_id, payment_id]))

    try:
        url = online_payment_begin(subject=subject_of(request), commune_id=commune_id,
                                   invoice_id=invoice_id, email=_email(request),
                                   notify_url_for=notify_url_for,
                                   return_url_for=return_url_for)
    except CitizenError as exc:
        return render(request, "citizens/online_payment.html", {"error": exc.message},
                      status=exc.http_status)
    return redirect(url)


@signed_in_required
def online_payment(request: HttpRequest, commune_id: int, payment_id: int) -> HttpResponse:
    """Back from PayFiP: the outcome (paid with its receipt, refused, abandoned, waiting)."""

    try:
        outcome = online_payment_outcome(subject=subject_of(request), commune_id=commune_id,
                                         payment_id=payment_id)
    except CitizenError as exc:
        return render(request, "citizens/online_payment.html", {"error": exc.message},
                      status=exc.http_status)
    return render(request, "citizens/online_payment.html", {"outcome": outcome})


@signed_in_required
def receipt(request: HttpRequest, commune_id: int, entry_id: int) -> FileResponse:
    try:
        number, pdf = receipt_pdf_for(subject_of(request), commune_id, entry_id)
    except NotLinked as exc:
        raise Http404(exc.message) from exc
    return FileResponse(io.BytesIO(pdf), as_attachment=True,
                        filename=f"quittance-{number}.pdf", content_type="application/pdf")


def _my_data(request: HttpRequest) -> dict:
    user = cast(User, request.user)  # signed_in_required
    account = {"subject": subject_of(request), "email": user.email,
               "name": user.get_full_name(), "joined_at": user.date_joined.isoformat(),
               "last_sign_in": user.last_login.isoformat() if user.last_login else None}
    return personal_data(subject_of(request), account)


@signed_in_required
def my_data(request: HttpRequest) -> JsonResponse:
    """Right of access: everything the platform holds about the person signed in."""
    response = JsonResponse(_my_data(request),
                            json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["Content-Disposition"] = 'attachment; filename="mes-donnees.json"'
    return response


@signed_in_required
def my_data_pdf(request: HttpRequest) -> HttpResponse:
    """The same, as a document to read (PDF/UA)."""
    response = HttpResponse(citizen_pdf(_my_data(request)), content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="mes-donnees.pdf"'
    return response


def invoice(request: HttpRequest, commune_id: int, invoice_id: int) -> FileResponse:
    """An invoice of a linked payer; any other is « not found » (nothing said of it)."""
    try:
        number, pdf = invoice_pdf_for(subject_of(request), commune_id, invoice_id)
    except NotLinked as exc:
        raise Http404(exc.message) from exc
    return FileResponse(io.BytesIO(pdf), as_attachment=True, filename=f"facture-{number}.pdf",
                        content_type="application/pdf")


def certificate_years() -> list[int]:
    this_year = timezone.localdate().year
    return list(range(this_year, this_year - 6, -1))


@signed_in_required
def certificate(request: HttpRequest, commune_id: int, payer_id: int) -> FileResponse:
    """The yearly certificate of payment (``?annee=``) of a linked payer."""
    year = _int(request.GET.get("annee", ""))
    if year not in certificate_years():
        raise Http404("Année inconnue.")
    try:
        pdf = certificate_pdf_for(subject_of(request), commune_id, payer_id, year)
    except NotLinked as exc:
        raise Http404(exc.message) from exc
    return FileResponse(io.BytesIO(pdf), as_attachment=True,
                        filename=f"attestation-de-paiement-{year}.pdf",
                        content_type="application/pdf")
