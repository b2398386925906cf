"""Who may do what in a régie, from its assignments (commune data, kept in the commune's
schema). Roles across the commune (administrator, finance) come with the signed-in
person and are checked by the views; what depends on a régie's own appointments is
checked here, by the services, whatever the interface.

- collect: any agent assigned to the régie on that day (titulaire, suppléant, mandataire,
  or a service credential assigned as mandataire);
- close the day, deposit, reverse anyone's payment: the titulaire, or the suppléant while
  a recorded stand-in covers the day;
- reverse one's own payment of the same day: the agent who posted it;
- keep payers and invoices (create, change, cancel, apply a credit): the régie's
  appointed agents, and the commune's administrator and finance staff (who manage the
  régies without collecting).
"""

from __future__ import annotations

import datetime

from opsn.agents.models import Role
from opsn.agents.selectors import roles_of
from opsn.kernel.actors import Actor
from opsn.regies.errors import NotAllowed
from opsn.regies.models import Assignment, AssignmentRole, Regie, StandIn


def active_assignments(regie: Regie, day: datetime.date):
    return Assignment.objects.appointed_on(day).filter(regie=regie)


def assignment_of(regie: Regie, account: str, day: datetime.date) -> Assignment | None:
    return active_assignments(regie, day).filter(account=account).first()


def may_collect(regie: Regie, account: str, day: datetime.date) -> bool:
    return assignment_of(regie, account, day) is not None


def may_keep(regie: Regie, account: str, day: datetime.date) -> bool:
    """Titulaire, or suppléant standing in on ``day``."""
    assignment = assignment_of(regie, account, day)
    if assignment is None:
        return False
    if assignment.role == AssignmentRole.TITULAIRE:
        return True
    return (assignment.role == AssignmentRole.SUPPLEANT and StandIn.objects.covering(day)
            .filter(regie=regie, account=account).exists())


def require_collector(regie: Regie, actor: Actor, day: datetime.date) -> None:
    if not may_collect(regie, actor.account, day):
        raise NotAllowed(f"{actor} n'est ni régisseur ni mandataire de la régie {regie.name} "
                         f"au {day:%d/%m/%Y} : seuls les agents nommés encaissent pour elle.")


def require_keeper(regie: Regie, actor: Actor, day: datetime.date, what: str) -> None:
    if not may_keep(regie, actor.account, day):
        raise NotAllowed(f"Seul le régisseur titulaire de la régie {regie.name} (ou son "
                         f"suppléant pendant un remplacement enregistré) peut {what}.")


def require_invoicer(regie: Regie, actor: Actor, day: datetime.date, what: str) -> None:
    if actor.kind == "system" or may_collect(regie, actor.account, day):
        return
    if roles_of(actor.account) & {Role.ADMINISTRATOR, Role.FINANCE}:
        return
    raise NotAllowed(f"{actor} n'est pas nommé dans la régie {regie.name}, ni administrateur "
                     f"ou agent du service financier de la commune : il ne peut pas {what}.")


def require_eraser(regie: Regie, actor: Actor, day: datetime.date) -> None:
    """Erasing a payer's contact details: the commune's administrator, or the régie's
    titulaire (who answers for its records); the job acts as the system."""
    if actor.kind == "system" or Role.ADMINISTRATOR in roles_of(actor.account):
        return
    assignment = assignment_of(regie, actor.account, day)
    if assignment is not None and assignment.role == AssignmentRole.TITULAIRE:
        return
    raise NotAllowed(f"Seuls l'administrateur de la commune et le régisseur titulaire de la "
                     f"régie {regie.name} peuvent effacer les coordonnées d'un payeur.")
