"""Merging two régies (fusion / centralisation): one closes into the other."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from opsn.audit import events
from opsn.audit.services import record
from opsn.kernel.actors import Actor
from opsn.kernel.money import euros
from opsn.kernel.tenancy import atomic
from opsn.regies import selectors
from opsn.regies.errors import Refused, RegieError
from opsn.regies.models import (
    Assignment,
    AssignmentRole,
    Invoice,
    InvoiceStatus,
    Payer,
    Product,
    Regie,
    RegieMerge,
)


@atomic
def regie_merge(*, absorbed: Regie, surviving: Regie, actor: Actor,
                on: datetime.date | None = None) -> RegieMerge:
    """Close ``absorbed`` into ``surviving`` on ``on`` (today by default).

    Products, payers, open invoices and current appointments move to the surviving régie;
    the absorbed régie's journal stays where it is, readable and verifiable, its receipts
    keep their numbers. Its funds must have been deposited first. The absorbed
    titulaire and suppléant become mandataires of the surviving régie (it keeps its own
    titulaire and suppléant), unless it has none."""
    if absorbed.pk == surviving.pk:
        raise RegieError("Une régie ne fusionne pas avec elle-même.", field="surviving")
    first, second = sorted([absorbed.pk, surviving.pk])  # same lock order for everyone
    locked = {r.pk: r for r in Regie.objects.select_for_update().filter(pk__in=[first, second])}
    absorbed, surviving = locked[absorbed.pk], locked[surviving.pk]
    on = on or timezone.localdate()
    for regie in (absorbed, surviving):
        if not regie.is_open_on(on):
            raise Refused(f"La régie {regie.name} n'est pas ouverte le {on:%d/%m/%Y}.")
    if on <= absorbed.starts_on:
        raise RegieError("La fusion suit l'ouverture de la régie absorbée.", field="on")
    in_hand = {m: a for m, a in selectors.holdings(absorbed).items() if a}
    if in_hand:
        total = sum(in_hand.values(), Decimal(0))
        raise Refused(f"La régie {absorbed.name} détient encore {euros(total)} non versés : "
                      "faites d'abord son versement au comptable.")
    clashes = sorted(set(Product.objects.filter(regie=absorbed).values_list("code", flat=True))
                     & set(Product.objects.filter(regie=surviving)
                           .values_list("code", flat=True)))
    if clashes:
        raise Refused(f"Les deux régies ont des produits de même code ({', '.join(clashes)}) :"
                      " renommez-les avant de fusionner.")
    refs = sorted(set(Payer.objects.filter(regie=absorbed).exclude(external_ref="")
                      .values_list("external_ref", flat=True))
                  & set(Payer.objects.filter(regie=surviving).exclude(external_ref="")
                        .values_list("external_ref", flat=True)))
    if refs:
        raise Refused(f"Des payeurs des deux régies ont la même référence ({', '.join(refs[:5])})"
                      " : rapprochez-les avant de fusionner.")

    moved = {
        "products": Product.objects.filter(regie=absorbed).update(regie=surviving),
        "payers": Payer.objects.filter(regie=absorbed).update(regie=surviving),
        "invoices": Invoice.objects.filter(regie=absorbed, status__in=[
            InvoiceStatus.DUE, InvoiceStatus.PARTLY_PAID]).update(regie=surviving),
        "assignments": _move_assignments(absorbed, surviving, on, actor),
    }
    absorbed.ends_on = on
    absorbed.merged_into = surviving
    absorbed.save(update_fields=["ends_on", "merged_into"])
    merge = RegieMerge.objects.create(absorbed=absorbed, surviving=surviving, on=on,
                                      moved=moved, merged_by=actor.account)
    record(actor, events.RegiesMerged(target=f"regie:{surviving.pk}", data={
        "absorbed": f"{absorbed.number} {absorbed.name}",
        "surviving": f"{surviving.number} {surviving.name}", **moved}))
    return merge


def _move_assignments(absorbed: Regie, surviving: Regie, on: datetime.date,
                      actor: Actor) -> int:
    """End the absorbed régie's appointments on ``on`` and open them again in the surviving
    one. An appointment that starts on ``on`` or later never took effect in the absorbed
    régie: it moves whole, with its own start (ending it would leave an empty period),
    or is dropped when the agent already serves the surviving régie."""
    current = list(Assignment.objects.filter(regie=absorbed, ends_on__isnull=True)
                   .order_by("starts_on", "id"))
    taken_roles = set(Assignment.objects.filter(regie=surviving, ends_on__isnull=True)
                      .values_list("role", flat=True))
    present = set(Assignment.objects.filter(regie=surviving, ends_on__isnull=True)
                  .values_list("account", flat=True))
    moved = 0
    for assignment in current:
        role = assignment.role
        if role in (AssignmentRole.TITULAIRE, AssignmentRole.SUPPLEANT) and role in taken_roles:
            role = AssignmentRole.MANDATAIRE
        if assignment.starts_on >= on:
            if assignment.account in present:
                assignment.delete()
                continue
            assignment.regie, assignment.role = surviving, role
            assignment.save(update_fields=["regie", "role"])
        else:
            assignment.ends_on = on
            assignment.save(update_fields=["ends_on"])
            if assignment.account in present:
                continue
            Assignment.objects.create(regie=surviving, account=assignment.account, role=role,
                                      starts_on=on, granted_by=actor.account)
        taken_roles.add(role)
        present.add(assignment.account)
        moved += 1
    return moved
