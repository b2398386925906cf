"""A commune's profile as its administrator's form sends it."""

from opsn.branding.models import CommuneProfile
from tests.helpers.communes import in_schema


def form_data(commune, **changes):
    with in_schema(commune):
        p = CommuneProfile.objects.get()
    data = {f: getattr(p, f) for f in (
        "official_name", "address_line", "postal_code", "city", "phone", "email", "website",
        "siret", "primary_color", "primary_text_color", "secondary_color",
        "secondary_text_color", "email_sender_name")}
    data.update(changes)
    return data
