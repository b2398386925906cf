"""Which notices a site shows: the commune's under its domains, the operator's on the
console, the portal and the identity provider (``opsn.branding.notices`` is the
template)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from opsn.branding.models import Conformity, PublicNotices
from opsn.branding.notices import (
    Notices,
    Party,
    audit_defaults,
    avis_url,
    commune_notices,
    operator_party,
)
from opsn.branding.selectors import current_notices_row, current_profile


def operator_notices(site: str) -> Notices:
    op = operator_party()
    audit = audit_defaults()
    return Notices(
        site=site, publisher=op, host=Party(name=settings.OPSN_HOSTING_PROVIDER) if
        settings.OPSN_HOSTING_PROVIDER else op, processor=op,
        conformity=audit["conformity"], audit_date=audit["audit_date"],
        audit_rate=audit["audit_rate"], audit_by=audit["audit_by"],
        non_conformities=[], derogations=[],
        feedback_contact=settings.OPSN_OPERATOR["email"],
        statement_date=audit["audit_date"],
        publication_director=settings.OPSN_PUBLICATION_DIRECTOR,
        dpo_contact=settings.OPSN_DPO_CONTACT,
        avis_url=avis_url(settings.OPSN_AVIS_SERVICE_ID, settings.OPSN_AVIS_KEY),
        is_operator=True,
        payer_retention_years=settings.OPSN_PAYER_RETENTION_YEARS,
    )


def site_notices(request: HttpRequest) -> Notices:
    site = request.get_host().rsplit(":", 1)[0].lower()
    if getattr(request, "commune", None) is None:
        return operator_notices(site)
    return commune_notices(current_profile(), current_notices_row(), site)


@dataclass(frozen=True)
class Footer:
    conformity_label: str
    avis_url: str


def site_footer(request: HttpRequest) -> Footer:
    """What every page's footer says: the conformity (RGAA asks for « Accessibilité :
    … conforme » there) and the « Je donne mon avis » link. One small query on a
    commune's site."""
    conformity = audit_defaults()["conformity"]
    if getattr(request, "commune", None) is None:
        return Footer(Conformity(conformity).label,
                      avis_url(settings.OPSN_AVIS_SERVICE_ID, settings.OPSN_AVIS_KEY))
    row = (PublicNotices.objects.filter(pk=1)
           .values_list("conformity", "avis_service_id", "avis_key").first())
    if row is None:
        return Footer(Conformity(conformity).label, "")
    return Footer(Conformity(row[0] or conformity).label, avis_url(row[1], row[2]))
