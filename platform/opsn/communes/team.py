"""The commune administrator's team: a role given or taken in the commune's schema
(``agents.team``, audit-logged) and at the identity provider (``provisioning()``: account,
invitation e-mail, memberships) in one step. Called by the commune's space; run inside
the commune. A refusal of the identity provider rolls the role back."""

from __future__ import annotations

from opsn.agents import team
from opsn.agents.models import AgentRole
from opsn.communes.identities import provisioning
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import atomic


def agent_invite(*, commune, email: str, role: str, actor: Actor) -> AgentRole:
    """A new agent: refused when the address is already a member of the commune."""
    with atomic():
        granted = team.role_grant(email=email, role=role, actor=actor, new_agent=True)
        provisioning().agent_granted(commune, granted.account, granted.role)
    return granted


def role_give(*, commune, email: str, role: str, actor: Actor) -> AgentRole:
    with atomic():
        granted = team.role_grant(email=email, role=role, actor=actor)
        provisioning().agent_granted(commune, granted.account, granted.role)
    return granted


def role_take(*, commune, email: str, role: str, actor: Actor) -> None:
    with atomic():
        team.role_revoke(email=email, role=role, actor=actor)
        provisioning().agent_revoked(commune, team.clean_email(email), role)


def agent_remove(*, commune, email: str, actor: Actor) -> None:
    """Every role of the agent (régie appointments stay on the régie's page)."""
    email = team.clean_email(email)
    with atomic():
        held = team.roles_held(email)
        if not held:
            raise team.TeamError(f"{email} n'est pas agent de la commune.", field="email")
        for role in held:
            team.role_revoke(email=email, role=role, actor=actor)
            provisioning().agent_revoked(commune, email, role)
