from django.apps import AppConfig


class PayfipLocalConfig(AppConfig):
    name = "opsn.payfip_local"
    label = "payfip_local"
    verbose_name = "PayFiP local (démonstration, tests)"
