from django.db import models


class AuditEvent(models.Model):
    """One action of an agent, a service credential or the platform. Append-only."""

    at = models.DateTimeField(db_index=True)
    code = models.CharField(max_length=60, db_index=True)  # "payment.recorded", …
    actor = models.CharField(max_length=254, db_index=True)
    actor_name = models.CharField(max_length=200, blank=True)
    actor_kind = models.CharField(max_length=10)  # agent | service | system
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    target = models.CharField(max_length=100, blank=True)  # "regie:3", "invoice:F-2026-12"
    summary = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%d/%m/%Y %H:%M} {self.actor}: {self.summary}"
