from django.apps import AppConfig


class RegiePagesConfig(AppConfig):
    name = "regie_pages"
    verbose_name = "Pages des régies"
