from django.apps import AppConfig


class OnlinePaymentsConfig(AppConfig):
    name = "opsn.online_payments"
    label = "online_payments"
    verbose_name = "Paiement en ligne (PayFiP)"

    def ready(self) -> None:
        # Connects the receivers of the régies' signals (the module's import is the point).
        from opsn.online_payments import receivers  # noqa: F401, PLC0415
