from django.apps import AppConfig


class CommuneSiteConfig(AppConfig):
    name = "commune_site"
    verbose_name = "Site de la commune"
