from agents.models import AgentRole


def roles_of(account: str) -> set[str]:
    """Roles held in the current commune's schema by ``account``."""
    if not account:
        return set()
    return set(AgentRole.objects.filter(account=account.lower()).values_list("role", flat=True))
