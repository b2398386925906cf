"""Bad input is a 400, before any view: one guard for the pages, both HTTP APIs and the
local identity provider (issue 15).

Right after the host routing (the refusal page is the commune's, and the commune API's
lane, which skips the page middlewares, comes after it), the guard reads what a request
brings — its path, query string, cookies, form fields and uploaded files' names, JSON
body — and refuses, with the usual French message, what no input may hold
(``opsn.kernel.inputs``: a NUL character, a lone surrogate, an over-long value, a whole
number no database column takes). Under ``/api/`` the refusal is the APIs' JSON error
(``{code, message, field, line}``), elsewhere the site's error page (``400.html``).

What a particular field accepts is still that field's business (its form, its schema, its
service); this is the floor under all of them, so that no view has to remember it.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve

from opsn.kernel.inputs import (
    MAX_FORM_LENGTH,
    MAX_LENGTH,
    InvalidInput,
    check,
    check_number,
    json_body_problem,
)

API_PREFIX = "/api/"
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
# A run of digits a number in the path may not fit a column: only then is the path
# resolved, to find which of its parts a URL pattern reads as an integer (<int:year>).
LONG_DIGITS = re.compile(r"\d{19,}")


class InputGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            inspect(request)
        except InvalidInput as exc:
            return refusal(request, exc)
        except RequestDataTooBig:
            size = f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1_048_576:.1f}".replace(".", ",")
            return refusal(request, InvalidInput(
                f"Le corps de la requête est trop volumineux ({size} Mo au plus)."))
        return self.get_response(request)


def inspect(request: HttpRequest) -> None:
    """Raises ``InvalidInput`` for the first part of ``request`` no input may hold."""
    _path(request)
    for key, values in request.GET.lists():
        check(key, field=key, label="Un nom de paramètre de l'adresse", numbers=False)
        for value in values:
            check(value, field=key, label=f"Le paramètre « {key} » de l'adresse")
    for key, value in request.COOKIES.items():
        check(value, field=key, label=f"Le cookie « {key} »", numbers=False)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    content_type = request.content_type or ""
    if content_type in FORMS:
        for key, values in request.POST.lists():
            check(key, field=key, label="Un nom de champ du formulaire", numbers=False)
            for value in values:
                check(value, field=key, label=f"Le champ « {key} »", numbers=False,
                      max_length=MAX_FORM_LENGTH)
        for key, files in request.FILES.lists():
            for upload in files:
                check(upload.name or "", field=key, numbers=False,
                      label=f"Le nom du fichier envoyé (« {key} »)")
    elif content_type == "application/json" or content_type.endswith("+json"):
        _json_body(request.body)


def _json_body(body: bytes) -> None:
    if body and (found := json_body_problem(body)):
        path, why = found
        raise InvalidInput(f"Le corps de la requête, en « {path} », {why}." if path else
                           f"Le corps de la requête {why}.", field=path or None)


def _path(request: HttpRequest) -> None:
    path = request.path_info
    check(path, field="path", label="L'adresse de la page", numbers=False,
          max_length=MAX_LENGTH)
    if not LONG_DIGITS.search(path):
        return
    try:
        match = resolve(path, getattr(request, "urlconf", None))
    except Resolver404:
        return  # the view's 404 says so
    for name, value in match.kwargs.items():
        if isinstance(value, int):
            check_number(value, field=name, label="Un nombre de l'adresse de la page")


def refusal(request: HttpRequest, exc: InvalidInput) -> HttpResponse:
    if request.path_info.startswith(API_PREFIX):
        return JsonResponse({"code": exc.code, "message": exc.message, "field": exc.field,
                             "line": None}, status=exc.http_status)
    return render(request, "400.html", {"message": exc.message}, status=exc.http_status)
