"""The commune's team, as its administrator sees it: who holds which role. Every grant and
withdrawal is refused with a French message when it makes no sense, and audit-logged. Run
inside the commune's schema; the identity provider's side (account, invitation e-mail,
memberships) is ``communes.team``'s, which calls these functions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from opsn.agents.models import AgentRole, Invitation, Role
from opsn.audit.events import (
    AgentRoleGranted,
    AgentRoleRevoked,
    InvitationCancelled,
    InvitationResent,
)
from opsn.audit.services import record
from opsn.kernel.actors import Actor
from opsn.kernel.errors import DomainError
from opsn.kernel.tenancy import atomic


class TeamError(DomainError):
    code = "team_refused"


def clean_email(value: str | None) -> str:
    email = (value or "").strip().lower()
    if not email:
        raise TeamError("Donnez l'adresse électronique de l'agent.", field="email")
    if len(email) > 254 or any(not ch.isprintable() for ch in email):
        raise TeamError("Cette adresse électronique n'est pas valide.", field="email")
    try:
        validate_email(email)
    except ValidationError:
        raise TeamError(f"« {email[:80]} » n'est pas une adresse électronique valide.",
                        field="email") from None
    return email


def clean_role(value: str | None) -> Role:
    if value not in Role.values:
        raise TeamError("Choisissez un rôle de la liste.", field="role")
    return Role(value)


def _administrators() -> set[str]:
    return set(AgentRole.objects.filter(role=Role.ADMINISTRATOR)
               .values_list("account", flat=True))


@atomic
def role_grant(*, email: str, role: str, actor: Actor, new_agent: bool = False) -> AgentRole:
    """``new_agent``: an invitation, refused when the address is already a member."""
    email, role = clean_email(email), clean_role(role)
    held = set(AgentRole.objects.filter(account=email).values_list("role", flat=True))
    if new_agent and held:
        raise TeamError(f"{email} est déjà agent de la commune : changez ses rôles dans la "
                        "liste.", field="email")
    if role in held:
        raise TeamError(f"{email} a déjà le rôle « {role.label} ».", field="role")
    granted = AgentRole.objects.create(account=email, role=role, granted_by=actor.account)
    record(actor, AgentRoleGranted(target=f"agent:{email}",
                                   data={"account": email, "role": role.label}))
    return granted


@atomic
def role_revoke(*, email: str, role: str, actor: Actor) -> None:
    email, role = clean_email(email), clean_role(role)
    found = AgentRole.objects.select_for_update().filter(account=email, role=role).first()
    if found is None:
        raise TeamError(f"{email} n'a pas le rôle « {role.label} ».", field="role")
    if role == Role.ADMINISTRATOR and _administrators() == {email}:
        raise TeamError("La commune doit garder au moins un administrateur : nommez-en un "
                        "autre avant de retirer ce rôle.", field="role")
    found.delete()
    record(actor, AgentRoleRevoked(target=f"agent:{email}",
                                   data={"account": email, "role": role.label}))


def roles_held(email: str) -> list[str]:
    return list(AgentRole.objects.filter(account=email).values_list("role", flat=True))


def invitation_open(*, email: str, role: str, actor: Actor) -> Invitation:
    """Keep the invitation ``role_grant(new_agent=True)`` just made, to resend or cancel
    it while the account is not activated."""
    return Invitation.objects.create(account=email, role=role, invited_by=actor.account,
                                     last_sent_at=timezone.now())


def invitation_pending(pk: int | str) -> Invitation:
    found = Invitation.objects.select_for_update().filter(
        pk=int(pk) if str(pk).isdigit() and len(str(pk)) < 10 else 0,
        cancelled_at__isnull=True).first()
    if found is None:
        raise TeamError("Cette invitation n'est plus en attente.")
    return found


@atomic
def invitation_resent(*, invitation: Invitation, actor: Actor) -> Invitation:
    invitation.last_sent_at = timezone.now()
    invitation.times_sent += 1
    invitation.save(update_fields=["last_sent_at", "times_sent"])
    record(actor, InvitationResent(target=f"agent:{invitation.account}", data={
        "account": invitation.account, "role": invitation.get_role_display()}))
    return invitation


@atomic
def invitation_cancelled(*, invitation: Invitation, actor: Actor) -> list[str]:
    """The invitation is cancelled and every role of the account withdrawn (it never
    signed in); returns those roles. The last administrator stays refused."""
    held = roles_held(invitation.account)
    for role in held:
        role_revoke(email=invitation.account, role=role, actor=actor)
    invitation.cancelled_at = timezone.now()
    invitation.save(update_fields=["cancelled_at"])
    record(actor, InvitationCancelled(target=f"agent:{invitation.account}", data={
        "account": invitation.account, "role": invitation.get_role_display()}))
    return held
