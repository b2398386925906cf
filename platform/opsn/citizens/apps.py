from django.apps import AppConfig


class CitizensConfig(AppConfig):
    name = "opsn.citizens"
    label = "citizens"
    verbose_name = "Usagers"
