from django.apps import AppConfig


class CommunesConfig(AppConfig):
    name = "opsn.communes"
    label = "communes"
    verbose_name = "Communes"
