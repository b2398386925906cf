"""The commune URLs, plus a one-query view for the request benchmark."""

from django.http import HttpResponse
from django.urls import path

from opsn.branding.selectors import current_profile
from opsn.urls_commune import urlpatterns as commune_urlpatterns


def profile(request):
    return HttpResponse(current_profile().official_name)


urlpatterns = [path("_bench/profile", profile), *commune_urlpatterns]
