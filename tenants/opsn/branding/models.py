from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siret

from opsn.branding.contrast import AA_NORMAL_TEXT, HEX_COLOUR, contrast_ratio
from opsn.kernel.tenancy import commune_connection


def validate_siret(value: str) -> None:
    try:
        siret.validate(value)
    except StdnumError as exc:
        raise ValidationError(
            "SIRET invalide : 14 chiffres dont le dernier est une clé de contrôle "
            "(exemple : 21690259300005).", code="invalid_siret") from exc


def validate_colour(value: str) -> None:
    if not HEX_COLOUR.match(value or ""):
        raise ValidationError("Couleur attendue au format #RRVVBB (exemple : #1F4E79).",
                              code="invalid_colour")


def branding_upload_path(instance: CommuneProfile, filename: str) -> str:

    # The schema name in the path keeps each commune's files apart on disk.
    return f"{commune_connection().schema_name}/branding/{filename}"


class CommuneProfile(models.Model):
    """The commune's identity, used by every page (and later every PDF and e-mail) served
    under its domains. Exactly one row per commune schema."""

    official_name = models.CharField("nom officiel", max_length=200)
    address_line = models.CharField("adresse", max_length=200, blank=True)
    postal_code = models.CharField("code postal", max_length=5, blank=True)
    city = models.CharField("ville", max_length=100, blank=True)
    phone = models.CharField("téléphone", max_length=30, blank=True)
    email = models.EmailField("courriel de contact", blank=True)
    website = models.URLField("site web", blank=True)
    siret = models.CharField("SIRET de la mairie", max_length=14, blank=True,
                             validators=[validate_siret])
    logo = models.ImageField("logo", upload_to=branding_upload_path, blank=True)
    emblem = models.ImageField("blason", upload_to=branding_upload_path, blank=True)
    primary_color = models.CharField("couleur principale", max_length=7, default="#1F4E79",
                                     validators=[validate_colour])
    primary_text_color = models.CharField("texte sur la couleur principale", max_length=7,
                                          default="#FFFFFF", validators=[validate_colour])
    secondary_color = models.CharField("couleur secondaire", max_length=7, default="#8A3B12",
                                       validators=[validate_colour])
    secondary_text_color = models.CharField("texte sur la couleur secondaire", max_length=7,
                                            default="#FFFFFF", validators=[validate_colour])
    email_sender_name = models.CharField("nom d'expéditeur des courriels", max_length=100,
                                         blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="commune_profile_singleton"),
        ]

    def __str__(self) -> str:
        return self.official_name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        for background, text, label in (
            ("primary_color", "primary_text_color", "principale"),
            ("secondary_color", "secondary_text_color", "secondaire"),
        ):
            bg, fg = getattr(self, background), getattr(self, text)
            if not (HEX_COLOUR.match(bg or "") and HEX_COLOUR.match(fg or "")):
                continue
            ratio = contrast_ratio(fg, bg)
            if ratio < AA_NORMAL_TEXT:
                errors[background] = (
                    f"Contraste insuffisant entre la couleur {label} {bg} et son texte {fg} : "
                    f"{ratio:.2f}:1, il faut au moins 4,5:1 (RGAA / WCAG 2.1 AA). "
                    "Foncez la couleur ou changez la couleur du texte."
                )
        if errors:
            raise ValidationError(errors)

    @property
    def display_name(self) -> str:
        return self.official_name

    @property
    def has_logo(self) -> bool:
        return bool(self.logo)

    @property
    def is_operator(self) -> bool:
        return False


AVIS_SERVICE_ID = RegexValidator(r"^[0-9]{1,10}$", "Identifiant de démarche attendu : des "
                                 "chiffres seulement (exemple : 3193).", code="invalid_avis_id")
AVIS_KEY = RegexValidator(r"^[0-9a-fA-F]{32}$", "Clé attendue : 32 caractères hexadécimaux, "
                          "celle du code du bouton (…&key=58e099a0…).", code="invalid_avis_key")


class Conformity(models.TextChoices):
    """RGAA 4.1: the statement says one of three (a site never audited is « non
    conforme »)."""

    FULL = "totale", "totalement conforme"
    PARTIAL = "partielle", "partiellement conforme"
    NONE = "non", "non conforme"


class PublicNotices(models.Model):
    """What the commune publishes about its site and its data: the accessibility statement
    (RGAA 4.1), the legal notices and the privacy notice, and its « Je donne mon avis »
    button. One row per commune schema, written by its administrator; a blank field is
    filled from the template with what the platform knows (``opsn.branding.notices``)."""

    conformity = models.CharField("état de conformité (RGAA 4.1)", max_length=10, blank=True,
                                  choices=Conformity.choices)
    audit_date = models.DateField("date de l'audit", null=True, blank=True)
    audit_rate = models.DecimalField(
        "taux de conformité (%)", max_digits=5, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))])
    audit_by = models.CharField("audit réalisé par", max_length=200, blank=True)
    non_conformities = models.TextField("contenus non accessibles : non-conformités",
                                        blank=True)
    derogations = models.TextField("dérogations pour charge disproportionnée et contenus "
                                   "non soumis", blank=True)
    feedback_contact = models.CharField("contact pour signaler un défaut d'accessibilité",
                                        max_length=200, blank=True)
    statement_date = models.DateField("date de la déclaration", null=True, blank=True)
    publication_director = models.CharField("directeur ou directrice de la publication",
                                            max_length=200, blank=True)
    dpo_contact = models.CharField("délégué à la protection des données (contact)",
                                   max_length=200, blank=True)
    privacy_additions = models.TextField("informations complémentaires sur les données",
                                         blank=True)
    avis_service_id = models.CharField("« Je donne mon avis » : identifiant de la démarche",
                                       max_length=10, blank=True, validators=[AVIS_SERVICE_ID])
    avis_key = models.CharField("« Je donne mon avis » : clé", max_length=32, blank=True,
                                validators=[AVIS_KEY])
    payer_retention_years = models.PositiveSmallIntegerField(
        "durée de conservation des coordonnées des payeurs (années)", null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="Années après la dernière facture ou le dernier paiement d'un payeur ; "
                  "ensuite ses coordonnées sont effacées et son nom pseudonymisé.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="public_notices_singleton"),
            models.CheckConstraint(
                condition=models.Q(payer_retention_years__isnull=True)
                | models.Q(payer_retention_years__gte=1, payer_retention_years__lte=10),
                name="public_notices_retention_years"),
            models.CheckConstraint(
                condition=models.Q(audit_rate__isnull=True)
                | models.Q(audit_rate__gte=0, audit_rate__lte=100),
                name="public_notices_rate_percent"),
        ]

    def __str__(self) -> str:
        return "Mentions publiques"

    def clean(self) -> None:
        if bool(self.avis_service_id) != bool(self.avis_key):
            raise ValidationError({"avis_key": "Le bouton « Je donne mon avis » demande "
                                               "l'identifiant de la démarche et sa clé."})
