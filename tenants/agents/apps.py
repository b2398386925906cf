from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Agents de la commune"

    def ready(self):
        from agents import receivers  # noqa: F401
