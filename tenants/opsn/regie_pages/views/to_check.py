"""« À vérifier »: the money that arrived and is not (or not simply) in the régie's journal —
online payments PayFiP took that the journal refused so far, PayFiP results that do not
match what was asked, imported payments no invoice matched, notifications for operations
nobody knows — each with its reference, what went wrong and what to do; and the régie's
latest online payments, with the notifications received for each. The titulaire settles
an online payment in anomaly here (records what PayFiP collected, or sets it aside), and
one paid for an invoice handed over to the public accountant (to the payer's credit, or to
the invoice once the accountant gave the titre back)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from opsn.accounts.auth import account_id, actor_of, commune_role_required
from opsn.kernel.pages import paginate
from opsn.online_payments import selectors as online
from opsn.online_payments.models import OnlinePayment
from opsn.online_payments.services import (
    TO_CREDIT,
    TO_INVOICE,
    online_payment_resolve,
    online_payment_settle_handed_over,
)
from opsn.regie_pages.forms import ResolveForm
from opsn.regie_pages.views.common import AGENT_ROLES, attach, page, regie_of, status_of
from opsn.regies import permissions, selectors
from opsn.regies.errors import RegieError
from opsn.regies.models import Regie


def _page(request: HttpRequest, regie: Regie, *, bound: tuple[int, ResolveForm] | None = None,
          status: int = 200) -> HttpResponse:
    """The page; long lists in pages (``?page=`` for the online payments, ``?imports=`` for
    the imported ones). A refused form is shown again on the page of its payment."""
    found = online.alerts(regie)
    index = next((i for i, a in enumerate(found) if bound and a.payment.pk == bound[0]), None)
    alerts_page = paginate(request, found, index=index)
    alerts = [{"alert": alert,
               "form": bound[1] if bound and bound[0] == alert.payment.pk else ResolveForm(
                   prefix=f"p{alert.payment.pk}")}
              for alert in alerts_page]
    return page(request, "regie_pages/to_check.html", {
        "alerts": alerts, "alerts_page": alerts_page,
        "unmatched": paginate(request, selectors.unmatched_imports(regie), parameter="imports"),
        "unmatched_todo": selectors.UNMATCHED_TODO,
        "notifications": online.refused_notifications(),
        "notification_todo": online.TODO_NOTIFICATION,
        "recent": online.recent(regie),
        "may_keep": permissions.may_keep(regie, account_id(request), timezone.localdate()),
    }, status=status, regie=regie, section="to_check")


@commune_role_required(*AGENT_ROLES)
def to_check(request: HttpRequest, number: str) -> HttpResponse:
    return _page(request, regie_of(request, number))


@commune_role_required(*AGENT_ROLES)
@require_POST
def online_resolve(request: HttpRequest, number: str, payment_id: int) -> HttpResponse:
    regie = regie_of(request, number)
    payment = next((a.payment for a in online.alerts(regie) if a.payment.pk == payment_id),
                   None)
    if payment is None:
        if OnlinePayment.objects.filter(pk=payment_id).exists():
            messages.info(request, "Ce paiement en ligne n'est plus à vérifier.")
            return redirect("regie_pages:to_check", regie.number)
        raise Http404("Aucun paiement en ligne de ce numéro à vérifier dans la régie.")
    form = ResolveForm(request.POST, prefix=f"p{payment.pk}")
    form.is_valid()
    action = request.POST.get("action", "")
    try:
        if action in (TO_CREDIT, TO_INVOICE):  # paid for an invoice handed over
            settled = online_payment_settle_handed_over(
                payment=payment, actor=actor_of(request),
                reason=form.cleaned_data.get("reason", ""), to=action)
        else:
            settled = online_payment_resolve(payment=payment, actor=actor_of(request),
                                             reason=form.cleaned_data.get("reason", ""),
                                             record_it=action == "record")
    except RegieError as exc:
        attach(form, exc)
        return _page(request, regie, bound=(payment.pk, form), status=status_of(exc))
    messages.success(request, f"Paiement en ligne payfip:{settled.idop} : {settled.resolution}")
    return redirect("regie_pages:to_check", regie.number)
