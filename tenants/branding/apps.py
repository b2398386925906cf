from django.apps import AppConfig


class BrandingConfig(AppConfig):
    name = "branding"
    verbose_name = "Identité de la commune"

    def ready(self):
        from branding import receivers  # noqa: F401
