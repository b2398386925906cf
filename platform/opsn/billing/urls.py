from django.urls import path

from opsn.billing import views

app_name = "billing"

urlpatterns = [
    path("", views.years, name="years"),
    path("<int:year>/", views.preview, name="preview"),
    path("<int:year>.csv", views.preview_csv, name="preview_csv"),
    path("<int:year>.ods", views.preview_ods, name="preview_ods"),
    path("<int:year>/emettre/", views.issue, name="issue"),
    path("<int:year>/regles/", views.rules, name="rules"),
    path("<int:year>/remises/", views.discounts, name="discounts"),
    path("remises/<int:pk>/retirer/", views.discount_remove, name="discount_remove"),
    path("<int:year>/prestations/", views.service_charges, name="services"),
    path("prestations/<int:pk>/retirer/", views.service_charge_remove,
         name="service_remove"),
    path("travaux/<int:pk>/", views.job, name="job"),
    path("<int:year>/titres/", views.invoices, name="invoices"),
    path("<int:year>/tableau/", views.dashboard, name="dashboard"),
    path("titres/<str:number>.pdf", views.invoice_pdf, name="invoice_pdf"),
    path("titres/<str:number>/corriger/", views.invoice_correct, name="invoice_correct"),
    path("journal/", views.events, name="events"),
    path("demandes/", views.requests, name="requests"),
    path("conventions/<str:insee_code>/", views.conventions, name="conventions"),
    path("titres/<str:number>/<str:action>/", views.invoice_action, name="invoice_action"),
]
