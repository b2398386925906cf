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


class ServiceCredential(models.Model):
    """A secret the commune's business software (a school-meals or nursery application…)
    presents to the commune's API. It acts as the account ``service:<name>`` and collects
    only for the régies where that account is appointed mandataire. Only the secret's
    SHA-256 is stored: a lost secret is revoked and another issued."""

    name = models.SlugField(max_length=60, unique=True,
                            help_text="nom du logiciel, en minuscules (ex. : cantine-ecoles)")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def account(self) -> str:
        """The account named in assignments, the ledger and the audit log."""
        return f"service:{self.name}"

    @property
    def display_name(self) -> str:
        return f"Logiciel métier {self.name}"


class Invitation(models.Model):
    """An agent invited by the commune's administrator, until the account is activated at
    the identity provider: resent, or cancelled (the roles it gave are withdrawn)."""

    account = models.CharField(max_length=254)
    role = models.CharField(max_length=20, choices=Role.choices)
    invited_by = models.CharField(max_length=254, blank=True)
    invited_at = models.DateTimeField(auto_now_add=True)
    last_sent_at = models.DateTimeField()
    times_sent = models.PositiveSmallIntegerField(default=1)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-invited_at"]

    def __str__(self) -> str:
        return f"{self.account} ({self.get_role_display()})"
