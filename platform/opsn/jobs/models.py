from django.db import models


class PeriodRun(models.Model):
    """One periodic job for one period. The unique row is the lock: however many
    schedulers run, only the one that inserts it enqueues the job."""

    name = models.CharField(max_length=100)
    period = models.CharField(max_length=20)  # e.g. 2026-11-22 (daily), 2026-11 (monthly)
    enqueued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "period"], name="one_run_per_period"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.period}"


class OutboxMessage(models.Model):
    """A job written in the same transaction as the work that asked for it, and delivered
    to the broker after commit. While the broker is down the row stays here, and the
    scheduler delivers it when the broker returns: a job is never lost."""

    message_id = models.CharField(max_length=36, unique=True)
    actor_name = models.CharField(max_length=200)
    queue_name = models.CharField(max_length=200)
    message = models.TextField()  # dramatiq's own encoding of the message
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"{self.actor_name} {self.message_id}"
