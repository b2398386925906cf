from opsn.branding.models import CommuneProfile, PublicNotices


def current_profile() -> CommuneProfile:
    """The profile of the commune whose schema the connection is set to."""
    profile = CommuneProfile.objects.filter(pk=1).first()
    # A schema restored from an archive made before branding existed has no row yet.
    return profile or CommuneProfile(pk=1, official_name="Commune")


def current_notices_row() -> PublicNotices | None:
    """The commune's own notices as its administrator saved them (None: the template's)."""
    return PublicNotices.objects.filter(pk=1).first()
