"""URLs under a commune's domains (its schema)."""

from django.urls import include, path

from opsn.commune_api.api import api as commune_api

urlpatterns = [
    path("compte/", include("opsn.accounts.urls")),
    path("api/v1/", commune_api.urls),
    path("espace/regies/", include("opsn.regie_pages.urls")),
    path("mon-espace/", include("opsn.citizens.urls")),
    path("paiement-en-ligne/", include("opsn.online_payments.urls")),
    path("", include("opsn.public_service.urls")),
    path("", include("opsn.commune_site.urls")),
]
