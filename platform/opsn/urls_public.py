"""URLs of the operator's hosts (public schema): console, portal, API."""

from django.urls import include, path

from opsn.operator_api.api import api

urlpatterns = [
    path("compte/", include("opsn.accounts.urls")),
    path("api/v1/", api.urls),
    path("facturation/", include("opsn.billing.urls")),
    path("mon-espace/", include("opsn.citizens.urls")),
    path("payfip-local/", include("opsn.payfip_local.urls")),
    path("", include("opsn.public_service.urls")),
    path("", include("opsn.console.urls")),
]
