"""The report of a régie over a period: what it collected, by mode, by product and by
agent, each adding up to the net total; and the same as CSV for a spreadsheet."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from opsn.accounts.auth import commune_role_required
from opsn.regie_pages.forms import PeriodForm
from opsn.regie_pages.views.common import AGENT_ROLES, attach, download, page, regie_of
from opsn.regies.errors import RegieError
from opsn.regies.exports import regie_report_csv
from opsn.regies.models import Regie
from opsn.regies.reports import RegieReport, regie_report


def _report(request: HttpRequest, regie: Regie) -> tuple[PeriodForm, RegieReport | None]:
    """The period asked for (this month so far by default) and its report, or the form
    with what is wrong."""
    today = timezone.localdate()
    form = PeriodForm(request.GET or {"start": today.replace(day=1), "end": today})
    if not form.is_valid():
        return form, None
    try:
        return form, regie_report(regie, form.cleaned_data["start"], form.cleaned_data["end"])
    except RegieError as exc:
        attach(form, exc)
        return form, None


@commune_role_required(*AGENT_ROLES)
def report(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    form, found = _report(request, regie)
    return page(request, "regie_pages/report.html", {"form": form, "report": found},
                status=400 if form.errors else 200, regie=regie, section="report")


@commune_role_required(*AGENT_ROLES)
def report_csv(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    form, found = _report(request, regie)
    if found is None:
        return page(request, "regie_pages/report.html", {"form": form, "report": None},
                    status=400, regie=regie, section="report")
    return download(regie_report_csv(found),
                    f"rapport-{regie.number}-{found.start:%Y%m%d}-{found.end:%Y%m%d}.csv",
                    "text/csv; charset=utf-8")

