from django.urls import path

from opsn.payfip_local import views

app_name = "payfip_local"

urlpatterns = [
    path("tpa/paiementws.web", views.payment_page, name="payment"),
]
