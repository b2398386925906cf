from django.conf import settings

from opsn.branding.models import CommuneProfile, PublicNotices


def current_profile() -> CommuneProfile:
    """The profile of the commune whose schema the connection is set to."""
    profile = CommuneProfile.objects.filter(pk=1).first()
    # A schema restored from an archive made before branding existed has no row yet.
    return profile or CommuneProfile(pk=1, official_name="Commune")


def current_notices_row() -> PublicNotices | None:
    """The commune's own notices as its administrator saved them (None: the template's)."""
    return PublicNotices.objects.filter(pk=1).first()


def payer_retention_years() -> int:
    """How many years after a payer's last invoice or payment its personal data are kept in
    this commune: the commune's own choice (its notices), else ``OPSN_PAYER_RETENTION_YEARS``.
    """
    row = current_notices_row()
    if row is not None and row.payer_retention_years:
        return row.payer_retention_years
    return settings.OPSN_PAYER_RETENTION_YEARS
