"""The commune's audit log: every agent action, who, what, when, from where. In the
commune's schema; the commune's administrator reads it."""
from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "opsn.audit"
    label = "audit"
    verbose_name = "Journal des actions"
