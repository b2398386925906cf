from django.apps import AppConfig


class PayfipLocalConfig(AppConfig):
    name = "payfip_local"
    verbose_name = "PayFiP local (démonstration, tests)"
