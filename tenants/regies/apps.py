from django.apps import AppConfig


class RegiesConfig(AppConfig):
    name = "regies"
    verbose_name = "Régies"
