from django.apps import AppConfig


class OnlinePaymentsConfig(AppConfig):
    name = "opsn.online_payments"
    label = "online_payments"
    verbose_name = "Paiement en ligne (PayFiP)"
