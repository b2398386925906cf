from django.db import models


class Throttle(models.Model):
    """One counter of attempts (``opsn.operations.throttle``): a sign-in, a second-factor
    code, a link code, per account or per address. The key is a keyed hash of what is
    counted (an e-mail, an address), so the table holds no personal data in clear. The
    counter lives until ``until``; the next attempt after it starts a new one."""

    key = models.CharField(primary_key=True, max_length=64)
    scope = models.CharField(max_length=40)  # what is counted: "idp-password", "link-code"…
    count = models.PositiveIntegerField()
    until = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["until"], name="throttle_until")]

    def __str__(self) -> str:
        return f"{self.scope} {self.count} until {self.until:%Y-%m-%d %H:%M}"
