from __future__ import annotations

import re
import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin

from opsn.communes.errors import UnknownCommune


class Module(models.Model):
    """An application of the operator's catalogue. The catalogue is data: rows, not code."""

    code = models.SlugField(max_length=40, primary_key=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    default_on_onboarding = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


INSEE_CODE_FORMAT = re.compile(r"[0-9]{5}|2[AB][0-9]{3}")


def normalise_insee_code(value: str) -> str:
    """Spaces around taken out, letters upper-cased: never padded, never cut (a 4-digit
    code is not guessed to be a département 01-09 one; ``communes.services.clean_insee_code``
    refuses it)."""
    return (value or "").strip().replace("\u00a0", "").replace("\u202f", "").upper()


class CommuneQuerySet(models.QuerySet):
    """The registry's reads that every part of the platform makes, the commune apps too
    (they reach it through ``opsn.kernel.tenancy.communes()``, not by importing this app)."""

    def named(self, key: str) -> Commune:
        """The commune an operator names by INSEE code, slug or schema name."""
        key = (key or "").strip()
        commune = (self.filter(insee_code=normalise_insee_code(key)).first()
                   or self.filter(slug=key.lower()).first()
                   or self.filter(schema_name=key.lower()).first())
        if commune is None:
            raise UnknownCommune(f"Aucune commune accueillie ne correspond à « {key} ».")
        return commune

    def active_with(self, module: str) -> CommuneQuerySet:
        """The active communes subscribed to ``module`` today, in a stable order: the ones a
        periodic job of that module fans out to (a suspended commune is not served)."""
        subscribed = CommuneModule.objects.current().filter(module_id=module).values("commune")
        return self.filter(status=Commune.Status.ACTIVE, pk__in=subscribed).order_by("pk")


class Commune(TenantMixin):
    """One onboarded commune: one PostgreSQL schema, in the database named by ``database``."""

    objects = CommuneQuerySet.as_manager()

    class Status(models.TextChoices):
        ACTIVE = "active", "En service"
        SUSPENDED = "suspended", "Suspendue"

    insee_code = models.CharField(max_length=5, unique=True)
    name = models.CharField(max_length=200, db_index=True)
    slug = models.SlugField(max_length=80, unique=True)
    siren = models.CharField(max_length=9, blank=True)
    departement_code = models.CharField(max_length=3)
    region_code = models.CharField(max_length=3)
    epci_siren = models.CharField(max_length=9, blank=True, db_index=True)
    # Chorus Pro routes the operator's titres by the SIRET of the commune's billing
    # establishment; some communes also require a service code (EN 16931 BT-10) and an
    # engagement number (BT-13). Set by communes.services.commune_set_billing.
    billing_siret = models.CharField(max_length=14, blank=True, default="")
    service_code = models.CharField(max_length=100, blank=True, default="")
    service_code_required = models.BooleanField(default=False)
    engagement_number = models.CharField(max_length=50, blank=True, default="")
    engagement_number_required = models.BooleanField(default=False)
    BILLING_FIELDS = ("billing_siret", "service_code", "service_code_required",
                      "engagement_number", "engagement_number_required")
    # Registry's commune -> database map. One database to start; nothing may assume that
    # every commune lives in "default" (see docs/architecture.md).
    database = models.CharField(max_length=63, default="default")
    # Set while the commune moves to that database (communes.moves): read-only meanwhile.
    moving_to = models.CharField(max_length=63, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE,
                              db_index=True)
    status_reason = models.CharField(max_length=300, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    onboarded_at = models.DateTimeField(auto_now_add=True)
    modules = models.ManyToManyField(Module, through="CommuneModule", related_name="communes")

    # Schemas are provisioned by communes.schemas (spare pool or migrations) and removed
    # only by offboarding, after a successful export: never implicitly by save()/delete().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(insee_code__regex=r"^([0-9]{5}|2[AB][0-9]{3})$"),
                name="commune_insee_code_format",
            ),
        ]
        indexes = [
            # django-tenants refuses a schema name that differs from another only in case
            # (TenantMixin._check_schema_name_is_unique, on every onboarding): without it,
            # that check read the whole registry (1 ms at 2,000 communes, and growing).
            models.Index(Upper("schema_name"), name="commune_schema_name_upper"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.insee_code})"

    @property
    def is_suspended(self) -> bool:
        return self.status == self.Status.SUSPENDED

    @property
    def is_read_only(self) -> bool:
        return bool(self.moving_to)

    @property
    def primary_domain(self) -> str | None:
        for d in self.domains.all():
            if d.is_primary:
                return d.domain
        return None


class Domain(DomainMixin):
    """A host name that reaches one commune: ``<slug>.<base domain>`` or a custom domain."""

    class Meta:
        ordering = ["-is_primary", "domain"]


class CommuneModuleQuerySet(models.QuerySet):
    def current(self, on=None):
        """Subscriptions in force on ``on`` (today by default)."""
        on = on or timezone.localdate()
        return self.filter(starts_on__lte=on).filter(
            models.Q(ends_on__isnull=True) | models.Q(ends_on__gt=on))


class CommuneModule(models.Model):
    """A commune's subscription to an application of the catalogue, for the period
    [starts_on, ends_on[. Ended subscriptions are kept: billing counts every calendar year
    a period overlaps. A module taken again later is a new period (a new row)."""

    commune = models.ForeignKey(Commune, on_delete=models.CASCADE)
    module = models.ForeignKey(Module, on_delete=models.PROTECT)
    enabled_at = models.DateTimeField(auto_now_add=True)
    starts_on = models.DateField(default=timezone.localdate)
    ends_on = models.DateField(null=True, blank=True)

    objects = CommuneModuleQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["commune", "module", "starts_on"],
                                    name="commune_module_period_once"),
            models.CheckConstraint(condition=models.Q(ends_on__isnull=True)
                                   | models.Q(ends_on__gt=models.F("starts_on")),
                                   name="commune_module_period_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.commune_id}: {self.module_id}"


class SpareSchema(models.Model):
    """A schema already migrated to the current release, waiting to become a commune's.

    Onboarding renames one (a catalogue-only operation) instead of running every tenant
    migration while the operator waits.
    """

    schema_name = models.CharField(max_length=63, unique=True)
    database = models.CharField(max_length=63, default="default", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.schema_name


class OnboardingBatch(models.Model):
    """Onboarding of many communes (an EPCI, a list): resumable, idempotent, with progress."""

    class Status(models.TextChoices):
        PENDING = "pending", "En attente"
        RUNNING = "running", "En cours"
        DONE = "done", "Terminé"
        FAILED = "failed", "Terminé avec erreurs"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    label = models.CharField(max_length=200)
    insee_codes = ArrayField(models.CharField(max_length=5))
    modules = ArrayField(models.CharField(max_length=40), null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # INSEE code -> "created" | "already onboarded" | error message
    outcomes = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.label} ({self.processed}/{self.total})"

    @property
    def total(self) -> int:
        return len(self.insee_codes)

    @property
    def processed(self) -> int:
        return len(self.outcomes)

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.processed / self.total)

    @property
    def errors(self) -> dict[str, str]:
        ok = {"created", "already onboarded"}
        return {k: v for k, v in self.outcomes.items() if v not in ok}


class CommuneArchive(models.Model):
    """An export of a commune's whole schema and registry rows, made before offboarding."""

    insee_code = models.CharField(max_length=5, db_index=True)
    name = models.CharField(max_length=200)
    schema_name = models.CharField(max_length=63)
    path = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    offboarded_at = models.DateTimeField(null=True, blank=True)
    restored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.insee_code}) {self.created_at:%Y-%m-%d}"
