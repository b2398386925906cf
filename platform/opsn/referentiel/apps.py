from django.apps import AppConfig


class ReferentielConfig(AppConfig):
    name = "opsn.referentiel"
    label = "referentiel"
    verbose_name = "Référentiel des communes"
