"""URLs of the local OpenID Connect provider's host (``OPSN_IDP_HOST``)."""

from django.urls import include, path

from opsn.idp.urls import oauth_urlpatterns

urlpatterns = [
    path("", include((oauth_urlpatterns, "oauth2_provider"))),
    path("", include("opsn.public_service.urls")),
    path("", include("opsn.idp.urls")),
]
