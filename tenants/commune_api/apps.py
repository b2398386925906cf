from django.apps import AppConfig


class CommuneApiConfig(AppConfig):
    name = "commune_api"
    verbose_name = "API de la commune"
