from django.apps import AppConfig


class CommuneSiteConfig(AppConfig):
    name = "opsn.commune_site"
    label = "commune_site"
    verbose_name = "Site de la commune"
