from django.dispatch import receiver

from opsn.agents.models import AgentRole, Role
from opsn.kernel.signals import commune_schema_ready


@receiver(commune_schema_ready)
def grant_first_administrator(sender, commune, admin_email=None, **kwargs):
    if admin_email:
        AgentRole.objects.create(account=admin_email.strip().lower(), role=Role.ADMINISTRATOR,
                                 granted_by="onboarding")
