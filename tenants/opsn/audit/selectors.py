from __future__ import annotations

from django.db.models import Q, QuerySet

from opsn.audit.models import AuditEvent


def audit_events(*, actor: str = "", code: str = "", q: str = "",
                 since=None, until=None) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if actor:
        events = events.filter(actor__iexact=actor)
    if code:
        events = events.filter(code__startswith=code)
    if q:
        events = events.filter(Q(summary__icontains=q) | Q(target__icontains=q))
    if since:
        events = events.filter(at__date__gte=since)
    if until:
        events = events.filter(at__date__lte=until)
    return events
