"""Long lists are cut into pages on the server (a régie's imports queue after two bank
statements of 20,000 lines was a 40 MB page): Django's paginator, with what every list
needs beside it — a bad page number (``abc``, twenty digits, nothing) is the first or the
last page, never an error, and the links keep the list's filters.

The links are drawn by ``opsn/_pagination.html`` (French, a ``nav`` with its label)."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PER_PAGE = 50


def paginate(request: HttpRequest, items, *, per_page: int | None = None,
             parameter: str = "page", index: int | None = None) -> Page:
    """The page of ``items`` the query string asks for (or the one holding the item at
    ``index``: a refused form shown again on the page of its item); ``page.query`` holds
    the query string's other parameters (the filters), encoded, for the links to the other
    pages."""
    size = per_page or PER_PAGE
    number = request.GET.get(parameter) if index is None else index // size + 1
    page = Paginator(items, size).get_page(number)
    query = request.GET.copy()
    query.pop(parameter, None)
    page.query = query.urlencode()  # type: ignore[attr-defined]
    page.parameter = parameter  # type: ignore[attr-defined]
    return page
