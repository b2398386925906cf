from django.db import models


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", "Administrateur de la commune"
    REGISSEUR = "regisseur", "Régisseur titulaire"
    SUPPLEANT = "suppleant", "Mandataire suppléant"
    MANDATAIRE = "mandataire", "Mandataire"
    FINANCE = "finance", "Service financier"


class AgentRole(models.Model):
    """A named individual account holds a role in this commune (never a shared login)."""

    account = models.CharField(max_length=254, help_text="identifiant du compte (courriel)")
    role = models.CharField(max_length=20, choices=Role.choices)
    granted_at = models.DateTimeField(auto_now_add=True)
    granted_by = models.CharField(max_length=254, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "role"], name="agent_role_once"),
        ]
        ordering = ["account", "role"]

    def __str__(self) -> str:
        return f"{self.account}: {self.get_role_display()}"
