from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("", views.years, name="years"),
    path("<int:year>/", views.preview, name="preview"),
    path("<int:year>.csv", views.preview_csv, name="preview_csv"),
]
