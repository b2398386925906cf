from opsn.agents.models import AgentRole


def roles_of(account: str) -> set[str]:
    """Roles held in the current commune's schema by ``account``."""
    if not account:
        return set()
    return set(AgentRole.objects.filter(account=account.lower()).values_list("role", flat=True))


def commune_agents() -> dict[str, set[str]]:
    """Every agent of the current commune (account identifier) and the roles they hold."""
    agents: dict[str, set[str]] = {}
    for account, role in AgentRole.objects.values_list("account", "role"):
        agents.setdefault(account, set()).add(role)
    return agents
