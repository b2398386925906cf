"""URLs of the operator's hosts (public schema): console, portal, API."""

from django.urls import include, path

from operator_api.api import api

urlpatterns = [
    path("compte/", include("accounts.urls")),
    path("api/v1/", api.urls),
    path("facturation/", include("billing.urls")),
    path("mon-espace/", include("citizens.urls")),
    path("payfip-local/", include("payfip_local.urls")),
    path("", include("console.urls")),
]
