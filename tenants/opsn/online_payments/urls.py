from django.urls import path

from opsn.online_payments import views

app_name = "online_payments"

urlpatterns = [
    path("notification/", views.notification, name="notification"),
]
