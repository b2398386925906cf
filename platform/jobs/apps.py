from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Tâches de fond"

    def ready(self):
        from jobs import broker

        broker.configure()
        # Declare every actor now, before any worker starts consuming.
        import billing.tasks  # noqa: F401
        import communes.tasks  # noqa: F401
        import online_payments.tasks  # noqa: F401
        import payfip_local.tasks  # noqa: F401
        import referentiel.tasks  # noqa: F401
        import regies.tasks  # noqa: F401
