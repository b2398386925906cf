from django.apps import AppConfig


class DirectDebitConfig(AppConfig):
    name = "opsn.direct_debit"
    label = "direct_debit"
    verbose_name = "Prélèvement SEPA : créancier, mandats, remises"

    def ready(self) -> None:
        # Connects the receivers of the régies' signals (the module's import is the point).
        from opsn.direct_debit import receivers  # noqa: F401, PLC0415
