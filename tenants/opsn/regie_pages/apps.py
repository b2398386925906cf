from django.apps import AppConfig


class RegiePagesConfig(AppConfig):
    name = "opsn.regie_pages"
    label = "regie_pages"
    verbose_name = "Pages des régies"
