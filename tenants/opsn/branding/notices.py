"""The commune's public notices, filled from a template with what the platform knows.

A commune's administrator edits ``PublicNotices``; a field left blank is filled here: the
publisher and the data controller are the commune (its profile), the host and the
processor the operator (``OPSN_OPERATOR``), the accessibility audit the operator's
(``OPSN_ACCESSIBILITY_*``: every commune runs the same software), the DPO the operator's
unless the commune names its own. The operator's own notices (console, portal) are built
from the same template by ``opsn.public_service.notices``."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings

from opsn.branding.models import CommuneProfile, Conformity, PublicNotices

AVIS_URL = ("https://voxusagers.numerique.gouv.fr/Demarches/{service}?&view-mode=formulaire-avis"
            "&nd_mode=en-ligne-enti%C3%A8rement&nd_source=button&key={key}")


def avis_url(service_id: str, key: str) -> str:
    """The State's « Je donne mon avis » link (Services Publics +), or "" unconfigured."""
    if not (service_id and key):
        return ""
    return AVIS_URL.format(service=service_id, key=key)


@dataclass(frozen=True)
class Party:
    name: str
    address: str = ""
    contact: str = ""
    siret: str = ""


@dataclass(frozen=True)
class Notices:
    """What the three notices and the « Je donne mon avis » button say, for one site."""

    site: str
    publisher: Party
    host: Party
    processor: Party
    conformity: str
    audit_date: datetime.date | None
    audit_rate: Decimal | None
    audit_by: str
    non_conformities: list[str]
    derogations: list[str]
    feedback_contact: str
    statement_date: datetime.date | None
    publication_director: str
    dpo_contact: str
    privacy_additions: list[str] = field(default_factory=list)
    avis_url: str = ""
    is_operator: bool = False
    # Years after a payer's last invoice or payment before its contact details are erased
    # and its name pseudonymised (OPSN_PAYER_RETENTION_YEARS, or the commune's own).
    payer_retention_years: int = 5

    @property
    def audit_rate_text(self) -> str:
        """82,5 ; 74 (as many decimals as given, a French comma)."""
        if self.audit_rate is None:
            return ""
        return format(self.audit_rate.normalize(), "f").replace(".", ",")

    @property
    def conformity_label(self) -> str:
        return Conformity(self.conformity).label


def operator_party() -> Party:
    op = settings.OPSN_OPERATOR
    return Party(name=op["name"],
                 address=", ".join(x for x in (op["address"], f"{op['postcode']} {op['city']}"
                                               .strip()) if x),
                 contact=" · ".join(x for x in (op["email"], op["phone"]) if x),
                 siret=op["siren"])


def audit_defaults() -> dict:
    """The operator's accessibility audit of the platform (settings), every site's
    default."""
    rate: Decimal | None
    try:
        rate = Decimal(settings.OPSN_ACCESSIBILITY_AUDIT_RATE)
    except (InvalidOperation, TypeError):
        rate = None
    date = None
    if settings.OPSN_ACCESSIBILITY_AUDIT_DATE:
        date = datetime.date.fromisoformat(settings.OPSN_ACCESSIBILITY_AUDIT_DATE)
    conformity = settings.OPSN_ACCESSIBILITY_CONFORMITY
    if conformity not in Conformity.values:
        conformity = Conformity.NONE
    return {"conformity": conformity, "audit_date": date, "audit_rate": rate,
            "audit_by": settings.OPSN_ACCESSIBILITY_AUDIT_BY}


def lines(text: str) -> list[str]:
    return [line.strip(" -•\t") for line in text.splitlines() if line.strip(" -•\t")]


def template_values(profile: CommuneProfile) -> dict:
    """The values the template gives a commune's blank fields (the edit form's initial
    values too)."""
    audit = audit_defaults()
    city = profile.city or profile.official_name
    return {
        **audit,
        "non_conformities": "",
        "derogations": "",
        "feedback_contact": profile.email or settings.OPSN_OPERATOR["email"],
        "statement_date": audit["audit_date"],
        "publication_director": f"Le maire ou la maire de {city}",
        "dpo_contact": settings.OPSN_DPO_CONTACT,
        "privacy_additions": "",
        "payer_retention_years": settings.OPSN_PAYER_RETENTION_YEARS,
    }


def commune_notices(profile: CommuneProfile, row: PublicNotices | None, site: str) -> Notices:
    values = template_values(profile)
    if row is not None:
        for name in values:
            given = getattr(row, name)
            if given not in ("", None):
                values[name] = given
    address = ", ".join(x for x in (profile.address_line,
                                    f"{profile.postal_code} {profile.city}".strip()) if x)
    operator = operator_party()
    return Notices(
        site=site,
        publisher=Party(name=profile.official_name, address=address,
                        contact=" · ".join(x for x in (profile.email, profile.phone) if x),
                        siret=profile.siret),
        host=operator, processor=operator,
        conformity=values["conformity"], audit_date=values["audit_date"],
        audit_rate=values["audit_rate"], audit_by=values["audit_by"],
        non_conformities=lines(values["non_conformities"]),
        derogations=lines(values["derogations"]),
        feedback_contact=values["feedback_contact"],
        statement_date=values["statement_date"],
        publication_director=values["publication_director"],
        dpo_contact=values["dpo_contact"],
        privacy_additions=lines(values["privacy_additions"]),
        avis_url=avis_url(row.avis_service_id, row.avis_key) if row else "",
        payer_retention_years=values["payer_retention_years"],
    )
