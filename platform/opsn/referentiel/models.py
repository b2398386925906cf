"""What the official data says about every French commune, kept in the public schema.

Populations are kept per reference year: loading a newer release adds a year and never
overwrites the figures of earlier years (billing of a past year must stay reproducible).
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models


class DataRelease(models.Model):
    """One loaded release of the reference data set."""

    name = models.CharField(max_length=100, unique=True)  # e.g. decoupage-administratif-6.0.0
    population_year = models.PositiveSmallIntegerField(
        help_text="INSEE reference year (millésime) of the populations in this release."
    )
    loaded_at = models.DateTimeField(auto_now_add=True)
    communes = models.PositiveIntegerField(default=0)
    epcis = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-population_year", "-loaded_at"]

    def __str__(self) -> str:
        return f"{self.name} (populations {self.population_year})"


class Epci(models.Model):
    siren = models.CharField(max_length=9, primary_key=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10)  # METRO, CU, CA, CC, EPT
    release = models.ForeignKey(DataRelease, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.siren})"


class OfficialCommune(models.Model):
    """A current commune (``commune-actuelle``) as the last loaded release describes it."""

    insee_code = models.CharField(max_length=5, primary_key=True)
    name = models.CharField(max_length=200, db_index=True)
    siren = models.CharField(max_length=9, blank=True)
    departement_code = models.CharField(max_length=3)
    departement_name = models.CharField(max_length=100)
    region_code = models.CharField(max_length=3)
    region_name = models.CharField(max_length=100)
    postal_codes = ArrayField(models.CharField(max_length=5), default=list)
    # Codes that now lead here: a merged commune's old code, a commune déléguée or
    # associée (e.g. Pierre-Bénite 69152 -> Oullins-Pierre-Bénite 69149 since 2024).
    former_codes = ArrayField(models.CharField(max_length=5), default=list, blank=True)
    epci = models.ForeignKey(Epci, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="communes")
    release = models.ForeignKey(DataRelease, on_delete=models.PROTECT, related_name="+")
    # A commune merged away in a later release is kept (with its populations) but no
    # longer current: nothing can be onboarded from it.
    is_current = models.BooleanField(default=True)

    class Meta:
        ordering = ["insee_code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.insee_code})"

    def population(self, year: int | None = None) -> "Population | None":
        qs = self.populations.all()
        if year is not None:
            qs = qs.filter(year=year)
        return qs.order_by("-year").first()


class Population(models.Model):
    """INSEE population of one commune for one reference year."""

    commune = models.ForeignKey(OfficialCommune, on_delete=models.PROTECT,
                                related_name="populations")
    year = models.PositiveSmallIntegerField()
    municipale = models.PositiveIntegerField()
    # Only known for communes that belong to an EPCI in the shipped data.
    totale = models.PositiveIntegerField(null=True, blank=True)
    release = models.ForeignKey(DataRelease, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["commune", "year"], name="population_one_per_year"),
            models.CheckConstraint(
                condition=(models.Q(totale__isnull=True)
                           | models.Q(totale__gte=models.F("municipale"))),
                name="population_totale_includes_municipale",
            ),
        ]
        ordering = ["-year"]

    def __str__(self) -> str:
        return f"{self.commune_id} {self.year}: {self.municipale}"
