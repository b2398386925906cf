from django.apps import AppConfig


class PublicServiceConfig(AppConfig):
    name = "opsn.public_service"
    label = "public_service"
    verbose_name = "Obligations de service public"
