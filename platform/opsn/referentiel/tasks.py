import dramatiq
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from opsn.referentiel.models import DataRelease


@dramatiq.actor(max_retries=3)
def remind_population_release() -> None:
    """Monthly: INSEE publishes populations each December (figures of year N apply from
    1 January N+3). Remind the operator when the loaded figures are older than that."""

    latest = DataRelease.objects.order_by("-population_year").first()
    expected = timezone.localdate().year - 3
    if latest is not None and latest.population_year >= expected:
        return
    have = latest.population_year if latest else "aucune"
    send_mail(subject="Référentiel INSEE à mettre à jour",
              message=(f"Les populations chargées sont celles de {have} ; celles de {expected} "
                       "s'appliquent cette année. Chargez la dernière publication de "
                       "decoupage-administratif : opsn load_referentiel CHEMIN "
                       "--population-year ANNEE."),
              from_email=settings.DEFAULT_FROM_EMAIL,
              recipient_list=[settings.OPSN_OPERATOR["email"]])
