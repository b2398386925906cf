from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "opsn.accounts"
    label = "accounts"
    verbose_name = "Comptes"
