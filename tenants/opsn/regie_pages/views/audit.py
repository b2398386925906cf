"""The commune's audit log, for its administrator: who did what, when, from where."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse

from opsn.accounts.auth import commune_role_required
from opsn.agents.models import Role
from opsn.audit.models import AuditEvent
from opsn.audit.selectors import audit_events
from opsn.regie_pages.forms import AuditFilter
from opsn.regie_pages.views.common import page

PER_PAGE = 50


@commune_role_required(Role.ADMINISTRATOR)
def audit_log(request: HttpRequest) -> HttpResponse:
    codes = sorted(AuditEvent.objects.values_list("code", flat=True).distinct())
    filters = AuditFilter(request.GET or None, codes=codes)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    events = audit_events(actor=criteria.get("actor", "").strip(),
                          code=criteria.get("code", ""), q=criteria.get("q", "").strip(),
                          since=criteria.get("since"), until=criteria.get("until"))
    paginated = Paginator(events.order_by("-at", "-id"), PER_PAGE).get_page(
        request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page(request, "regie_pages/audit.html", {
        "filters": filters, "page_obj": paginated, "query": query.urlencode(),
    }, section="audit")
