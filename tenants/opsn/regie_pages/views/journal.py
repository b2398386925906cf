"""The receipt register (journal à souches) of a régie, newest first, each reversal beside
the receipt it cancels; and the check of its chain of fingerprints."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum
from django.http import HttpRequest, HttpResponse

from opsn.accounts.auth import commune_role_required
from opsn.kernel.pages import paginate
from opsn.regie_pages.forms import JournalFilter
from opsn.regie_pages.views.common import AGENT_ROLES, page, regie_of
from opsn.regies.chain import verify_chain
from opsn.regies.models import LedgerEntry
from opsn.regies.reports import receipt_register


def _grouped(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """Newest first, but a reversal right under the receipt it cancels when both are on
    the page (an agent reads them together)."""
    by_id = {e.pk: e for e in entries}
    reversal_of = {e.reverses_id: e for e in entries if e.reverses_id in by_id}
    rows = []
    for entry in entries:
        if entry.reverses_id in by_id:
            continue  # shown under its original
        rows.append(entry)
        if entry.pk in reversal_of:
            rows.append(reversal_of[entry.pk])
    return rows


@commune_role_required(*AGENT_ROLES)
def journal(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    all_entries = LedgerEntry.objects.filter(regie=regie)
    agents = sorted({(a, n or a) for a, n in all_entries.values_list("agent", "agent_name")
                     .distinct()}, key=lambda item: item[1].lower())
    filters = JournalFilter(request.GET or None, agents=agents)
    data = filters.cleaned_data if filters.is_valid() else {}
    entries = receipt_register(regie, since=data.get("day"), until=data.get("day"),
                               mode=data.get("mode") or None, agent=data.get("agent") or None)
    paginated = paginate(request, entries)
    check = None
    if request.GET.get("verifier"):
        check = {"broken": verify_chain(regie), "count": all_entries.count()}
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("verifier", None)
    # The filters again, for the chain check's form: pairs, not the query dictionary, whose
    # keys a template would read before its methods (``?lists=x`` made ``.lists`` a text).
    kept = [(key, value) for key, values in query.lists() for value in values]
    # The links to other pages do not run the chain check again.
    paginated.query = query.urlencode()  # type: ignore[attr-defined]
    return page(request, "regie_pages/journal.html", {
        "filters": filters, "rows": _grouped(list(paginated.object_list)),
        "page_obj": paginated, "count": paginated.paginator.count,
        "total": entries.aggregate(s=Sum("amount"))["s"] or Decimal("0.00"),
        "check": check, "query": query.urlencode(), "kept": kept,
    }, regie=regie, section="journal")
