from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "opsn.agents"
    label = "agents"
    verbose_name = "Agents de la commune"

    def ready(self):
        from opsn.agents import receivers  # noqa: PLC0415, F401
