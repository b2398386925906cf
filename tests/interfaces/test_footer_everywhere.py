"""Every page of every journey links the accessibility statement, the legal notices, the
privacy notice and the source code: a crawl of each host (portal, console, commune site,
régie pages, « Mon espace », identity provider) as the people who use it, following the
host's own links from its main pages."""

from __future__ import annotations

import datetime
import re
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.test import Client

from opsn.agents.models import Role
from opsn.branding.models import PublicNotices
from opsn.citizens.models import LinkMethod, PayerLink
from opsn.direct_debit.services import creditor_set, mandate_record
from tests.helpers.communes import in_schema
from tests.helpers.identity import agent, make_account, sign_in
from tests.helpers.regies import ADMIN, make_invoice, make_payer, make_regie

FOOTER = ('href="/accessibilite/"', 'href="/mentions-legales/"',
          'href="/donnees-personnelles/"', 'href="/code-source/"')
SKIPPED = re.compile(r"\.(pdf|csv|json|xml|tar\.gz|png|svg|ods)$|/deconnexion|/api/|"
                     r"/identite/(logo|blason)|/media/|/static/|/payfip-local/")


def crawl(client: Client, host: str, start: list[str], limit: int = 60) -> list[str]:
    """The HTML pages reached from ``start`` by the links of ``host`` itself; each must
    carry the four footer links. Returns the pages seen."""
    seen: list[str] = []
    queue = list(start)
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen or SKIPPED.search(path):
            continue
        seen.append(path)
        response = client.get(path, HTTP_HOST=host)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        missing = [link for link in FOOTER if link not in html]
        assert not missing, (host, path, missing)
        for href in re.findall(r'href="([^"#]+)"', html):
            url = urlsplit(href.replace("&amp;", "&"))
            if url.netloc in ("", host) and url.path.startswith("/") and url.path not in seen:
                queue.append(url.path + (f"?{url.query}" if url.query else ""))
    return seen


def test_the_commune_site_and_the_regie_pages(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie, "Famille Durand")
        make_invoice(regie, payer, "45.00", number="CANT-2026-11")
        creditor_set(regie=regie, ics="FR72ZZZ123456", iban="FR7630001007941234567890185",
                     bic="BDFEFRPP", name="Vénissieux cantine", actor=ADMIN)
        mandate = mandate_record(payer=payer, debtor_name=payer.name,
                                 iban="FR7630006000011234567890189", bic="AGRIFRPP",
                                 signed_on=datetime.date(2026, 9, 1), actor=ADMIN)
    host = venissieux.primary_domain
    seen = crawl(Client(), host, ["/", "/quittances/verifier/", "/accessibilite/"])
    assert "/mentions-legales/" in seen

    admin = agent(venissieux, "admin@venissieux.fr", Role.ADMINISTRATOR, Role.REGISSEUR)
    seen = crawl(admin, host, ["/espace/identite/", "/espace/mentions/", "/espace/agents/",
                               "/espace/regies/", f"/espace/regies/{regie.number}/guichet/"],
                 limit=80)
    assert len(seen) >= 25 and "/espace/regies/R-001/journal/" in seen
    assert f"/espace/regies/R-001/payeurs/{payer.pk}/" in seen
    assert f"/espace/regies/R-001/payeurs/{payer.pk}/mandats/{mandate.pk}/" in seen


def test_the_portal_the_console_and_the_identity_provider(console):
    seen = crawl(console, "console.localhost", ["/", "/communes/", "/statistiques/",
                                                "/facturation/"])
    assert "/communes/69259/" in seen and "/statistiques/" in seen
    crawl(Client(), "localhost", ["/", "/statistiques/", "/code-source/"])
    seen = crawl(Client(), "connexion.localhost", ["/", "/connexion/", "/mentions-legales/"])
    assert "/connexion/" in seen


def test_a_citizens_space(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie, "Camille Durand")
        make_invoice(regie, payer, "45.00", number="CANT-2026-12")
    make_account("camille.durand@citoyen.test")
    citizen = sign_in(venissieux.primary_domain, "camille.durand@citoyen.test")
    subject = get_user_model().objects.get(pk=citizen.session["_auth_user_id"]).get_username()
    PayerLink.objects.create(subject=subject, commune=venissieux, payer_id=payer.pk,
                             payer_name=payer.name, method=LinkMethod.CODE)
    seen = crawl(citizen, venissieux.primary_domain, ["/mon-espace/"])
    assert any(p.startswith("/mon-espace/") for p in seen)

    # The commune's « Je donne mon avis »: on « Mes paiements » itself, and in the footer.
    with in_schema(venissieux):
        PublicNotices.objects.create(pk=1, avis_service_id="3193",
                                     avis_key="58e099a09c02abe629c14905ed2b055d")
    page = citizen.get("/mon-espace/", HTTP_HOST=venissieux.primary_domain).content.decode()
    assert page.count("voxusagers.numerique.gouv.fr/Demarches/3193?") == 2
    assert "CANT-2026-12" in page  # the crawl saw the citizen's own statement
