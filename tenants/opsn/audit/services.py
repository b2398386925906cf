"""Recording an action: called by the services that change a commune's data, inside their
transaction (an action rolled back leaves no trace; one that commits always does)."""

from __future__ import annotations

from django.utils import timezone

from opsn.audit.events import Event
from opsn.audit.models import AuditEvent
from opsn.kernel import context
from opsn.kernel.actors import Actor


def record(actor: Actor, event: Event) -> AuditEvent:
    return AuditEvent.objects.create(
        at=timezone.now(), code=event.code, actor=actor.account, actor_name=actor.name,
        actor_kind=actor.kind, ip=actor.ip or None,
        request_id="" if context.request_id.get() == "-" else context.request_id.get(),
        target=event.target, summary=event.summary()[:500], data=event.payload())
