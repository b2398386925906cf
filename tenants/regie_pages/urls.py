from django.urls import path  # noqa: F401

app_name = "regie_pages"

urlpatterns: list = []
