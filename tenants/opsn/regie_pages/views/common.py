"""What every régie page shares: who may open a régie's pages, the page context, and how a
domain error reaches the form field it names."""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header

from opsn.accounts.auth import account_id, commune_roles
from opsn.agents.models import Role
from opsn.regies.errors import NotAllowed, RegieError
from opsn.regies.models import Assignment, Regie

# Any role in the commune opens the régies' space; what an agent may do in one régie is
# decided by its appointments, which the services check.
AGENT_ROLES = tuple(Role.values)
# Who reads every régie of the commune without being appointed to it.
READ_ALL = {Role.ADMINISTRATOR, Role.FINANCE}


def regie_of(request: HttpRequest, number: str) -> Regie:
    """The régie of the commune being served (the host picked the schema: a number of
    another commune does not exist here), if the person may read it."""
    regie = Regie.objects.filter(number=number).select_related("merged_into").first()
    if regie is None:
        raise Http404(f"Aucune régie n° {number} dans cette commune.")
    if commune_roles(request) & READ_ALL:
        return regie
    # An agent reads the régies they were ever appointed to (their own past receipts).
    if Assignment.objects.filter(regie=regie, account=account_id(request)).exists():
        return regie
    raise PermissionDenied(f"Vous n'êtes pas nommé(e) dans la régie {regie.name}.")


def page(request: HttpRequest, template: str, context: dict, *, status: int = 200,
         regie: Regie | None = None, section: str = "") -> HttpResponse:
    roles = commune_roles(request)
    context = {"roles": roles, "is_admin": Role.ADMINISTRATOR in roles,
               "today": timezone.localdate(), "regie": regie, "section": section, **context}
    return render(request, template, context, status=status)


def attach(form: forms.Form, exc: RegieError, aliases: dict[str, str] | None = None) -> None:
    """Show the domain's message next to the field it names (or at the top)."""
    field = (aliases or {}).get(exc.field or "", exc.field)
    form.add_error(field if field in form.fields else None, exc.message)


def status_of(exc: RegieError) -> int:
    """403 when the agent may not act in this régie, 400 for everything else the domain
    refuses (the page is shown again with what was typed)."""
    return 403 if isinstance(exc, NotAllowed) else 400


def parse_day(value: str | None, default: datetime.date | None = None) -> datetime.date | None:
    """A day from a query string (yyyy-mm-dd, what <input type=date> sends, or dd/mm/yyyy)."""
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.datetime.strptime((value or "").strip(), fmt).date()
        except ValueError:
            continue
    return default


def amount_input(value) -> str:
    """An amount as a French agent types it back: 45,00."""
    return f"{value:.2f}".replace(".", ",")


def download(content: bytes | str, filename: str, content_type: str) -> HttpResponse:
    """A document to save (receipt, slip, report). Django writes the Content-Disposition,
    encoding a file name that is not plain ASCII (a régie's number is free text)."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename) or ""
    return response
