"""PayFiP's server-to-server notification, on the commune's domain (its schema): a POST
carrying only ``idOp``. Thin: ``services.online_payment_notified`` asks PayFiP the
result."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from opsn.kernel.addresses import client_ip
from opsn.online_payments.errors import OnlinePaymentError
from opsn.online_payments.services import online_payment_notified


@csrf_exempt  # PayFiP posts it, server to server; what it says is checked with PayFiP
@require_POST
def notification(request: HttpRequest) -> HttpResponse:
    idop = request.POST.get("idOp") or request.POST.get("idop") or ""
    try:
        online_payment_notified(idop=idop, ip=client_ip(request))
    except OnlinePaymentError as exc:
        return HttpResponse(exc.message, status=exc.http_status,
                            content_type="text/plain; charset=utf-8")
    return HttpResponse("OK", content_type="text/plain; charset=utf-8")
