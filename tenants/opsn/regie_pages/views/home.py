"""« Mes régies »: the régies the agent is appointed to, each with its cash position, its
warnings and the money that arrived and awaits someone (« À vérifier »); the
administrator and the finance staff see them all."""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from opsn.accounts.auth import account_id, commune_role_required, commune_roles
from opsn.online_payments import selectors as online
from opsn.regie_pages.views.common import AGENT_ROLES, READ_ALL, page
from opsn.regies import permissions, selectors
from opsn.regies.models import Regie


@commune_role_required(*AGENT_ROLES)
def my_regies(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    account = account_id(request)
    sees_all = bool(commune_roles(request) & READ_ALL)
    regies = Regie.objects.all() if sees_all else selectors.regies_of(account, today)
    cards = []
    for regie in regies.select_related("merged_into").order_by("number"):
        in_hand = selectors.held_in_hand(regie)
        totals = selectors.day_totals(regie, today)
        assignment = permissions.assignment_of(regie, account, today)
        cards.append({
            "regie": regie,
            "open": regie.is_open_on(today),
            "in_hand": in_hand,
            "percent": (min(int(in_hand * 100 / regie.cash_limit), 100)
                        if regie.cash_limit else 0),
            "warnings": selectors.warnings(regie),
            "totals": sorted(totals.items()),
            "day_total": sum((total for _, total in totals.values()), Decimal("0.00")),
            "day_count": sum(n for n, _ in totals.values()),
            "role": assignment.get_role_display() if assignment else "",
            "collects": assignment is not None,
            "alerts": online.alerts(regie),
            "unmatched": selectors.unmatched_imports(regie).count(),
        })
    return page(request, "regie_pages/home.html", {
        "cards": cards, "sees_all": sees_all, "notifications": online.refused_notifications(),
        "notification_todo": online.TODO_NOTIFICATION, "unmatched_todo": selectors.UNMATCHED_TODO,
    }, section="home")
