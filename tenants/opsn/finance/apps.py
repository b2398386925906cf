from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "opsn.finance"
    label = "finance"
    verbose_name = "Budgets et nomenclature M57 de la commune"

    def ready(self) -> None:
        # Connects the receivers of the régies' signals (the module's import is the point).
        from opsn.finance import receivers  # noqa: F401, PLC0415
