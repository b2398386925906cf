"""URLs under a commune's domains (its schema)."""

from django.urls import include, path

urlpatterns = [
    path("compte/", include("accounts.urls")),
    path("", include("commune_site.urls")),
]
