from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "opsn.billing"
    label = "billing"
    verbose_name = "Facturation des communes"
