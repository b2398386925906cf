"""« À vérifier » with a long list: the online payments waiting are shown fifty a page, the
heading counts them all, and a refused settlement is shown again on the page of its
payment (not on the first page, where it would be lost)."""

from __future__ import annotations

import html
import re

from django.utils import timezone

from opsn.agents.models import Role
from opsn.online_payments.models import OnlinePayment, PaymentState
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import grant, make_account, sign_in_webtest
from tests.helpers.regies import TITULAIRE, make_invoice, make_payer, make_regie

PAGE = "/espace/regies/R-001/a-verifier/"


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.text))
                  .replace("\u202f", " ").replace("\xa0", " "))


def test_a_long_list_to_check_is_shown_in_pages(venissieux, django_app):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie, "Famille Durand")
        invoice = make_invoice(regie, payer, "74.75", number="F-2026-0077")
        payments = [OnlinePayment.objects.create(
            regie=regie, invoice=invoice, payer=payer, idop=f"idop{i:04d}", numcli="012345",
            environment="T", exer=2026, refdet="F-2026-0077", amount_cents=7475,
            email="durand@example.org", started_by="x" * 16, state=PaymentState.ANOMALY,
            result_code="P", result={"montant": "100", "resultrans": "P"},
            note="PayFiP dit avoir encaissé 1,00 € pour 74,75 € demandés",
            finished_at=timezone.now()) for i in range(51)]
    make_account(TITULAIRE.account)
    grant(venissieux, TITULAIRE.account, Role.REGISSEUR)
    sign_in_webtest(django_app, host_of(venissieux), TITULAIRE.account)
    django_app.extra_environ = {**django_app.extra_environ, "HTTP_HOST": host_of(venissieux)}

    first = django_app.get(PAGE)
    said = text(first)
    assert "Paiements en ligne (PayFiP) : 51 à vérifier" in said
    assert "Page 1 sur 2 (lignes 1 à 50 sur 51)" in said
    waiting = re.findall(r"payfip:(idop\d{4}) — 74,75 €", said)  # the alerts, not the table
    assert waiting == [f"idop{i:04d}" for i in range(50)]

    last = django_app.get(PAGE, {"page": "2"})
    assert re.findall(r"payfip:(idop\d{4}) — 74,75 €", text(last)) == ["idop0050"]
    assert "Page 2 sur 2" in text(django_app.get(PAGE, {"page": "999"}))

    # The last one settled without a reason: refused, shown on its page with its error.
    form = next(f for f in last.forms.values()
                if f.action.endswith(f"/paiement-en-ligne/{payments[50].pk}/"))
    refused = form.submit("action", value="dismiss", status=400)
    assert "Page 2 sur 2" in text(refused) and "Donnez le motif" in text(refused)
