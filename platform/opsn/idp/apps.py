from django.apps import AppConfig


class IdpConfig(AppConfig):
    name = "opsn.idp"
    label = "idp"
    verbose_name = "Fournisseur d'identité local"
