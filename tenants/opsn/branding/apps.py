from django.apps import AppConfig


class BrandingConfig(AppConfig):
    name = "opsn.branding"
    label = "branding"
    verbose_name = "Identité de la commune"

    def ready(self):
        from opsn.branding import receivers  # noqa: PLC0415, F401
