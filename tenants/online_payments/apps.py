from django.apps import AppConfig


class OnlinePaymentsConfig(AppConfig):
    name = "online_payments"
    verbose_name = "Paiement en ligne (PayFiP)"
