from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class JobsConfig(AppConfig):
    name = "opsn.jobs"
    label = "jobs"
    verbose_name = "Tâches de fond"

    def ready(self):
        # The broker module reads the job models: not before the app registry is ready.
        from opsn.jobs import broker  # noqa: PLC0415

        broker.configure()
        # Declare every actor now, before any worker starts consuming: each app's
        # ``tasks`` module, found the way Django finds ``admin`` modules.
        autodiscover_modules("tasks")
