from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "opsn.operations"
    label = "operations"
    verbose_name = "Exploitation"

    def ready(self):
        from opsn.operations import errors

        errors.configure()
