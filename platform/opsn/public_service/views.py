"""The public-service pages every host serves: the three notices, the source code."""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from opsn.branding.processing import activities
from opsn.communes.routing import request_host
from opsn.public_service import source
from opsn.public_service.notices import site_notices


def _page(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    """The identity provider's host has no sign-in link of its own: its base template."""
    base = ("idp/base.html" if request_host(request) == settings.OPSN_IDP_HOST
            else "opsn/base.html")
    return render(request, f"public_service/{template}", {**context, "base_template": base})


@require_safe
def accessibility(request: HttpRequest) -> HttpResponse:
    return _page(request, "accessibility.html", {"notices": site_notices(request)})


@require_safe
def legal(request: HttpRequest) -> HttpResponse:
    return _page(request, "legal.html", {"notices": site_notices(request)})


@require_safe
def privacy(request: HttpRequest) -> HttpResponse:
    notices = site_notices(request)
    return _page(request, "privacy.html", {
        "notices": notices, "processings": activities(notices.payer_retention_years)})


@require_safe
def source_code(request: HttpRequest) -> HttpResponse:
    """AGPL-3.0 §13: whoever uses the platform over the network may have its source."""
    return _page(request, "source.html", {
        "forge": settings.OPSN_SOURCE_URL, "archive_name": source.archive_name(),
        "version": source.version()})


@require_safe
def source_archive(request: HttpRequest, name: str) -> HttpResponseBase:
    if name != source.archive_name():  # an older or unknown version: the one running
        return redirect("public_service:source_archive", name=source.archive_name())
    response = FileResponse(source.archive().open("rb"), as_attachment=True, filename=name,
                            content_type="application/gzip")
    return response
