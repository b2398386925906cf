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
