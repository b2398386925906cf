from django.apps import AppConfig

from opsn.operations import errors


class OperationsConfig(AppConfig):
    name = "opsn.operations"
    label = "operations"
    verbose_name = "Exploitation"

    def ready(self):
        errors.configure()
