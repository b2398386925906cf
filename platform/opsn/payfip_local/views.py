"""The payer's page at the local provider: what is asked, and three buttons (pay, refuse,
abandon). The choice is kept, the notification sent in the background, and the browser
goes back to urlredirect."""

from __future__ import annotations

import datetime
import secrets
from decimal import Decimal

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone

from opsn.jobs.broker import send
from opsn.operations.middleware import ContentSecurityPolicyMiddleware
from opsn.payfip_local.models import Operation
from opsn.payfip_local.tasks import notify

CHOICES = {"payer": "P", "refuser": "R", "abandonner": "A"}


def _any_return(response: HttpResponse) -> HttpResponse:
    """The choice's form ends on urlredirect, on whichever commune's domain asked: like
    PayFiP's own page (and the local identity provider's), no ``form-action`` here."""

    response["Content-Security-Policy"] = ContentSecurityPolicyMiddleware.BASE
    return response


def payment_page(request: HttpRequest) -> HttpResponse:
    if settings.OPSN_PAYFIP != "local":  # a deployment on the real PayFiP serves no test page
        return HttpResponse("Prestataire de test désactivé.", status=404,
                            content_type="text/plain; charset=utf-8")
    return _any_return(_payment_page(request))


def _payment_page(request: HttpRequest) -> HttpResponse:
    idop = request.GET.get("idop") or request.POST.get("idop") or ""
    operation = Operation.objects.filter(idop=idop).first()
    if operation is None:
        return HttpResponse("Opération inconnue.", status=404,
                            content_type="text/plain; charset=utf-8")
    lapsed = (timezone.now() - operation.created_at
              > datetime.timedelta(minutes=settings.OPSN_PAYFIP_VALIDITY_MINUTES))
    if request.method == "POST" and not operation.resultrans and not lapsed:
        choice = CHOICES.get(request.POST.get("choix", ""))
        if choice is None:
            return render(request, "payfip_local/payment.html", {
                "operation": operation, "amount": Decimal(operation.montant) / 100,
                "error": "Choisissez : payer, refuser ou abandonner."}, status=400)

        Operation.objects.filter(pk=operation.pk).update(
            resultrans=choice, decided_at=timezone.now(),
            numauto=f"{secrets.randbelow(10**6):06d}" if choice == "P" else "")
        if settings.OPSN_PAYFIP_LOCAL_NOTIFY:
            send(notify, idop)
        return HttpResponseRedirect(operation.urlredirect)
    return render(request, "payfip_local/payment.html", {
        "operation": operation, "amount": Decimal(operation.montant) / 100,
        "lapsed": lapsed}, status=410 if lapsed else 200)
