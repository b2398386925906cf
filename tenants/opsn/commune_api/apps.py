from django.apps import AppConfig


class CommuneApiConfig(AppConfig):
    name = "opsn.commune_api"
    label = "commune_api"
    verbose_name = "API de la commune"
