"""URLs under a commune's domains (its schema)."""

from django.urls import include, path

from commune_api.api import api as commune_api

urlpatterns = [
    path("compte/", include("accounts.urls")),
    path("api/v1/", commune_api.urls),
    path("espace/regies/", include("regie_pages.urls")),
    path("mon-espace/", include("citizens.urls")),
    path("paiement-en-ligne/", include("online_payments.urls")),
    path("", include("commune_site.urls")),
]
