from django.db import models


class PublicStatistics(models.Model):
    """The platform's open statistics as the daily job computed them (one row per day).
    Only aggregates, never a person; what is published goes through
    ``opsn.public_service.statistics.published``, which hides the small counts."""

    computed_on = models.DateField(unique=True)
    computed_at = models.DateTimeField()
    figures = models.JSONField()

    class Meta:
        ordering = ["-computed_on"]

    def __str__(self) -> str:
        return f"statistiques du {self.computed_on}"
