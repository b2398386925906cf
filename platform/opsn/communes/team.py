"""The commune administrator's team: a role given or taken in the commune's schema
(``agents.team``, audit-logged) and at the identity provider (``provisioning()``: account,
invitation e-mail, memberships) in one step. Called by the commune's space; run inside
the commune. A refusal of the identity provider rolls the role back."""

from __future__ import annotations

from opsn.agents import team
from opsn.agents.models import AgentRole, Invitation
from opsn.communes.identities import provisioning
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import atomic


def agent_invite(*, commune, email: str, role: str, actor: Actor) -> AgentRole:
    """A new agent: refused when the address is already a member of the commune."""
    with atomic():
        granted = team.role_grant(email=email, role=role, actor=actor, new_agent=True)
        team.invitation_open(email=granted.account, role=granted.role, actor=actor)
        provisioning().agent_granted(commune, granted.account, granted.role)
    return granted


def invitations_pending(*, commune) -> list[Invitation]:
    """The invitations not cancelled whose account is not yet activated at the identity
    provider (activated ones are simply agents)."""
    waiting = list(Invitation.objects.filter(cancelled_at__isnull=True))
    return [i for i in waiting if not provisioning().account_active(i.account)]


def invitation_resend(*, commune, pk: int | str, actor: Actor) -> Invitation:
    with atomic():
        invitation = team.invitation_pending(pk)
        if provisioning().account_active(invitation.account):
            raise team.TeamError(f"{invitation.account} a déjà activé son compte : il n'y a "
                                 "plus d'invitation à renvoyer.")
        team.invitation_resent(invitation=invitation, actor=actor)
        provisioning().invitation_resent(commune, invitation.account, invitation.role)
    return invitation


def invitation_cancel(*, commune, pk: int | str, actor: Actor) -> Invitation:
    with atomic():
        invitation = team.invitation_pending(pk)
        if provisioning().account_active(invitation.account):
            raise team.TeamError(f"{invitation.account} a déjà activé son compte : retirez "
                                 "ses rôles dans l'équipe.")
        for role in team.invitation_cancelled(invitation=invitation, actor=actor):
            provisioning().agent_revoked(commune, invitation.account, role)
    return invitation


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
