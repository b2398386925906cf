from django.dispatch import receiver

from opsn.branding.defaults import default_colours
from opsn.branding.models import CommuneProfile
from opsn.kernel.signals import commune_schema_ready


@receiver(commune_schema_ready)
def create_default_profile(sender, commune, official, **kwargs):
    primary, secondary = default_colours(commune.insee_code)
    CommuneProfile.objects.create(
        pk=1,
        official_name=f"Mairie de {official.name}",
        city=official.name,
        postal_code=(official.postal_codes or [""])[0],
        primary_color=primary,
        secondary_color=secondary,
        email_sender_name=f"Mairie de {official.name}",
    )
