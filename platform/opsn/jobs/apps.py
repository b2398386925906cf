from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "opsn.jobs"
    label = "jobs"
    verbose_name = "Tâches de fond"

    def ready(self):
        from opsn.jobs import broker

        broker.configure()
        # Declare every actor now, before any worker starts consuming.
        import opsn.billing.tasks
        import opsn.communes.tasks
        import opsn.online_payments.tasks
        import opsn.payfip_local.tasks
        import opsn.referentiel.tasks
        import opsn.regies.tasks  # noqa: F401
