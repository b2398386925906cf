from django.apps import AppConfig


class DirectDebitConfig(AppConfig):
    name = "opsn.direct_debit"
    label = "direct_debit"
    verbose_name = "Prélèvement SEPA : créancier, mandats, remises"
