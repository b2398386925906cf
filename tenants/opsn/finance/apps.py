from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "opsn.finance"
    label = "finance"
    verbose_name = "Budgets et nomenclature M57 de la commune"
