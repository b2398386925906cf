from django.apps import AppConfig


class RegiesConfig(AppConfig):
    name = "opsn.regies"
    label = "regies"
    verbose_name = "Régies"
