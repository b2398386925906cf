"""The public statistics: real figures from the communes' régies and the citizens' links,
computed by the daily job, published as a page (chart and table), CSV and JSON under the
Licence Ouverte 2.0, with the counts from 1 to 4 hidden."""

import csv
import io
import json

from django.test import Client
from django.utils import timezone

from opsn.citizens.models import LinkMethod, PayerLink
from opsn.jobs.periodic import SCHEDULE
from opsn.public_service import tasks
from opsn.public_service.models import PublicStatistics
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import in_schema
from tests.helpers.regies import MANDATAIRE, make_payer, make_regie

PORTAL = {"HTTP_HOST": "localhost"}


def takings(commune, **modes):
    with in_schema(commune):
        regie = make_regie(accepted_modes=["cash", "cheque", "card", "transfer", "online",
                                           "other"], cash_limit="100000")
        payer = make_payer(regie)
        for mode, n in modes.items():
            for i in range(n):
                details = {"cheque": {"cheque_number": f"00{i}", "bank": "La Banque Postale"},
                           "card": {"terminal_ref": f"T{i}"}}.get(mode, {})
                payment_record(regie=regie, actor=MANDATAIRE, amount="10.00", mode=mode,
                               payer=payer, details=details)


def link(commune, subject, payer_id):
    PayerLink.objects.create(subject=subject, commune=commune, payer_id=payer_id,
                             payer_name="Famille", method=LinkMethod.CODE)


def test_the_daily_job_publishes_real_figures_and_hides_small_counts(venissieux, vaulx):
    takings(venissieux, cash=6, cheque=2, online=4)
    takings(vaulx, cash=1, card=5, online=3)
    for i in range(6):
        link(venissieux, f"citoyen-{i}", i + 1)
    link(vaulx, "citoyen-0", 1)  # one person, two communes: counted once

    assert "public-statistics" in [job.name for job in SCHEDULE]
    tasks.refresh_public_statistics()
    tasks.refresh_public_statistics()  # idempotent: one row per day
    assert PublicStatistics.objects.count() == 1

    month = timezone.localdate().strftime("%Y-%m")
    data = json.loads(Client(**PORTAL).get("/statistiques/statistiques-opsn.json").content)
    assert data["licence"] == "Licence Ouverte / Open Licence version 2.0"
    assert data["communes_served"] == 2
    assert data["citizens_with_account"] == 6
    assert data["payments_count"] == 21
    assert data["online_share_percent"] == "33.3"  # 7 of 21
    this = next(m for m in data["months"] if m["month"] == month)
    modes = {m["mode"]: m for m in this["modes"]}
    assert modes["cash"]["count"] == 7 and modes["cash"]["amount"] == "70.00"
    assert modes["cheque"]["count"] is None and modes["cheque"]["amount"] is None  # 2: hidden
    assert modes["card"]["count"] == 5
    assert modes["online"]["count"] == 7
    assert modes["transfer"]["count"] == 0
    assert len(data["months"]) == 12

    page = Client(**PORTAL).get("/statistiques/").content.decode()
    assert "à venir" not in page
    assert "<tr><th scope=\"row\">Communes servies</th><td>2</td></tr>" in page
    assert "<td>21</td>" in page and "33,3 %" in page
    assert "&lt; 5" in page  # the cheques
    assert '<svg role="img" aria-labelledby="graphe-titre graphe-desc"' in page

    response = Client(**PORTAL).get("/statistiques/statistiques-opsn.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["indicateur", "mois", "mode", "valeur"]
    assert ["communes_servies", "", "", "2"] in rows
    assert ["paiements", month, "cheque", "< 5"] in rows
    assert ["montant_euros", month, "cheque", "< 5"] in rows
    assert ["paiements", month, "cash", "7"] in rows


def test_few_people_are_never_counted_out_loud(venissieux):
    takings(venissieux, cash=3)
    link(venissieux, "seul", 1)
    data = json.loads(Client(**PORTAL).get("/statistiques/statistiques-opsn.json").content)
    assert data["citizens_with_account"] is None
    assert data["payments_count"] is None and data["online_share_percent"] is None
    page = Client(**PORTAL).get("/statistiques/").content.decode()
    assert "Usagers ayant un compte rattaché à un dossier de payeur</th><td>&lt; 5" in page


def test_odd_parameters_change_nothing(db):
    client = Client(**PORTAL)
    for query in ("?format=xml", "?mois=9999-99", "?page=-1&commune=%27"):
        assert client.get("/statistiques/statistiques-opsn.json" + query).status_code == 200
        assert client.get("/statistiques/" + query).status_code == 200
