"""Served on every host (commune sites, console and portal, identity provider)."""

from django.urls import path

from opsn.public_service import views

app_name = "public_service"

urlpatterns = [
    path("accessibilite/", views.accessibility, name="accessibility"),
    path("mentions-legales/", views.legal, name="legal"),
    path("donnees-personnelles/", views.privacy, name="privacy"),
    path("code-source/", views.source_code, name="source"),
    path("code-source/<str:name>", views.source_archive, name="source_archive"),
]
