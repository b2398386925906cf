from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "opsn.console"
    label = "console"
    verbose_name = "Console de l'opérateur"
