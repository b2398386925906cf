"""A citizen revokes a mandate of a linked payer, or gives it a new account, online
(« Mes paiements » › Prélèvement): the same revocation and amendment as the régie's
(status, end date and reason; the RUM kept and the amendment announced), recorded in the
audit log as the citizen, the régie's titulaire e-mailed once. A debit already sent to
the bank is said with its date and amount. A mandate no longer active is refused in
French; a mandate of a payer not linked to the person is not found, like one that does
not exist; a NUL byte in the reason or the IBAN is refused in French and changes nothing."""

from __future__ import annotations

import datetime
import html
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from opsn.audit.models import AuditEvent
from opsn.citizens import debits
from opsn.citizens import services as citizen_services
from opsn.citizens.errors import CitizenError, NotLinked
from opsn.direct_debit import online
from opsn.direct_debit.models import Mandate
from opsn.direct_debit.services import collect, creditor_set, mandate_amend
from opsn.kernel.actors import Actor
from opsn.regies.errors import NotAllowed
from opsn.regies.models import Payer
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import make_account, sign_in
from tests.helpers.regies import ADMIN, STRANGER, TITULAIRE, make_invoice, make_payer, make_regie

SUBJECT = "sujet-camille-durand"
CITIZEN = Actor(account="citizen:abc", name="Camille Durand", ip="192.0.2.50", kind="citizen")
CA_IBAN, CA_BIC = "FR76 3000 6000 0112 3456 7890 189", "AGRIFRPP"
NEW_IBAN, NEW_BIC = "FR7630004000031234567890143", "BNPAFRPP"
DAY, BEFORE = datetime.date(2026, 12, 15), datetime.date(2026, 12, 7)


@pytest.fixture
def signed(venissieux):
    """An active mandate signed online for the Durand family, a debit of 45,00 € already
    sent to the bank for the 15th."""
    with in_schema(venissieux):
        regie = make_regie()
        creditor_set(regie=regie, ics="FR72ZZZ123456", iban="FR7630001007941234567890185",
                     bic="BDFEFRPP", name="Ville de Vénissieux – cantine", actor=ADMIN)
        payer = make_payer(regie, "Famille Durand")
        make_invoice(regie, payer, "45.00", number="CANT-2026-12")
        signed = online.mandate_sign(payer=payer, signer="Camille Durand", actor=CITIZEN,
                                     **online.prepare(payer=payer, debtor_name="Camille Durand",
                                                      iban=CA_IBAN, bic=CA_BIC))
        collect(regie=regie, collection_date=DAY, actor=TITULAIRE, today=BEFORE)
    return signed


@pytest.fixture
def mandate(venissieux, signed):
    """The same, the family linked to ``SUBJECT``."""
    with in_schema(venissieux):
        code = Payer.objects.get(pk=signed.payer_id).link_code
    citizen_services.payer_link_by_code(subject=SUBJECT, commune=venissieux, code=code)
    return signed


def fresh(venissieux, mandate) -> Mandate:
    with in_schema(venissieux):
        return Mandate.objects.get(pk=mandate.pk)


def test_the_citizen_revokes_the_mandate_and_the_titulaire_is_told_once(
        venissieux, mandate, django_capture_on_commit_callbacks):
    shown = debits.mandate_view(SUBJECT, venissieux.pk, mandate.pk)
    assert shown.pending == [(DAY, Decimal("45.00"))]  # the bank may still take it
    assert shown.iban == "•••• 0189"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        rum = debits.mandate_revoke(SUBJECT, venissieux.pk, mandate.pk,
                                    reason="  Changement de banque ", signer="Camille Durand")
    assert rum == mandate.rum
    revoked = fresh(venissieux, mandate)
    assert (revoked.status, revoked.ended_on) == ("revoked", timezone.localdate())
    assert revoked.end_reason == "Révoqué en ligne par l'usager : Changement de banque"
    with in_schema(venissieux):
        event = AuditEvent.objects.get(code="sepa.mandate_revoked")
        assert event.actor_kind == "citizen" and "Changement de banque" in event.summary
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [TITULAIRE.account] and mandate.rum in message.subject
    assert "Famille Durand a révoqué en ligne" in message.body
    assert "Changement de banque" in message.body and "1234567890189" not in message.body

    mail.outbox.clear()
    with pytest.raises(CitizenError, match="révoqué") as refused:
        debits.mandate_revoke(SUBJECT, venissieux.pk, mandate.pk, reason="",
                              signer="Camille Durand")
    assert refused.value.http_status == 409
    with pytest.raises(CitizenError, match="n'est plus utilisé"):
        debits.mandate_view(SUBJECT, venissieux.pk, mandate.pk)
    with pytest.raises(CitizenError, match="ne peut plus être modifié"):
        debits.mandate_amend(SUBJECT, venissieux.pk, mandate.pk, signer="Camille Durand",
                             prepared={"iban": NEW_IBAN, "bic": NEW_BIC})
    assert mail.outbox == []


def test_without_a_reason_the_revocation_says_it_was_done_online(venissieux, mandate):
    debits.mandate_revoke(SUBJECT, venissieux.pk, mandate.pk, reason="", signer="C. D.")
    assert fresh(venissieux, mandate).end_reason == "Révoqué en ligne par l'usager"


@pytest.mark.parametrize("status", ["suspended", "lapsed"])
def test_a_mandate_no_longer_active_is_refused_in_french(venissieux, mandate, status):
    with in_schema(venissieux):
        Mandate.objects.filter(pk=mandate.pk).update(status=status, ended_on=BEFORE)
    for call in (lambda: debits.mandate_view(SUBJECT, venissieux.pk, mandate.pk),
                 lambda: debits.mandate_revoke(SUBJECT, venissieux.pk, mandate.pk, reason="",
                                               signer="C. D."),
                 lambda: debits.amend_check(SUBJECT, venissieux.pk, mandate.pk, iban=NEW_IBAN,
                                            bic=NEW_BIC)):
        with pytest.raises(CitizenError, match="n'est plus utilisé|est déjà"):
            call()
    assert fresh(venissieux, mandate).status == status


def test_the_citizen_changes_the_account_the_rum_stays(
        venissieux, mandate, django_capture_on_commit_callbacks):
    with pytest.raises(CitizenError, match="déjà celui du mandat"):
        debits.amend_check(SUBJECT, venissieux.pk, mandate.pk, iban=CA_IBAN, bic=CA_BIC)
    prepared = debits.amend_check(SUBJECT, venissieux.pk, mandate.pk,
                                  iban="fr76 3000 4000 0312 3456 7890 143", bic="bnpafrpp")
    assert prepared == {"iban": NEW_IBAN, "bic": NEW_BIC}
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        rum, iban = debits.mandate_amend(SUBJECT, venissieux.pk, mandate.pk,
                                         prepared=prepared, signer="Camille Durand")
    assert (rum, iban) == (mandate.rum, "•••• 0143")
    amended = fresh(venissieux, mandate)
    assert (amended.status, amended.iban, amended.bic) == ("active", NEW_IBAN, NEW_BIC)
    # collected once already: the next collection announces the new bank (SMNDA, FRST)
    assert amended.amendment_pending and amended.original_iban == CA_IBAN.replace(" ", "")
    with in_schema(venissieux):
        event = AuditEvent.objects.get(code="sepa.mandate_amended")
        assert event.actor_kind == "citizen" and "•••• 0143" in event.summary
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [TITULAIRE.account]
    assert "nouveau compte •••• 0143" in mail.outbox[0].body
    assert NEW_IBAN not in mail.outbox[0].body


def test_another_person_reaches_nothing_and_the_agent_rule_is_kept(venissieux, mandate):
    calls = {
        "view": lambda s, pk: debits.mandate_view(s, venissieux.pk, pk),
        "revoke": lambda s, pk: debits.mandate_revoke(s, venissieux.pk, pk, reason="",
                                                      signer="X"),
        "check": lambda s, pk: debits.amend_check(s, venissieux.pk, pk, iban=NEW_IBAN,
                                                  bic=NEW_BIC),
        "amend": lambda s, pk: debits.mandate_amend(s, venissieux.pk, pk, signer="X",
                                                    prepared={"iban": NEW_IBAN,
                                                              "bic": NEW_BIC}),
    }
    answers = set()
    for call in calls.values():
        for subject, pk in (("quelqu-un-d-autre", mandate.pk), (SUBJECT, mandate.pk + 999)):
            with pytest.raises(NotLinked) as refused:
                call(subject, pk)
            answers.add(refused.value.message)
    assert len(answers) == 1  # the same answer, whether missing or not linked
    with in_schema(venissieux), pytest.raises(NotAllowed):
        mandate_amend(mandate=mandate, iban=NEW_IBAN, bic=NEW_BIC, actor=STRANGER)
    unchanged = fresh(venissieux, mandate)
    assert (unchanged.status, unchanged.iban) == ("active", CA_IBAN.replace(" ", ""))


@pytest.fixture
def browser(venissieux, signed):
    """The Durand family's citizen, signed in through the provider, the family linked."""
    email = "camille.durand@citoyen.test"
    make_account(email)
    client = sign_in(host_of(venissieux), email)
    with in_schema(venissieux):
        code = Payer.objects.get(pk=signed.payer_id).link_code
    assert client.post("/mon-espace/rattachements/", {"code": code}).status_code == 302
    yield client
    get_user_model().objects.filter(email=email).delete()


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_pages_revoke_refusing_a_nul_byte(venissieux, signed, browser):
    mandate = signed
    assert "Révoquer ce mandat" in text(browser.get("/mon-espace/prelevement/"))
    url = f"/mon-espace/prelevement/mandats/{venissieux.pk}/{mandate.pk}/revoquer/"
    page = text(browser.get(url))
    assert "aucun nouveau prélèvement ne sera fait" in page
    assert "Un prélèvement de 45,00 € du 15/12/2026 est déjà remis à la banque" in page
    refused = browser.post(url, {"reason": "Changement\x00de banque"})
    assert refused.status_code == 400 and "caractère nul" in text(refused)
    assert fresh(venissieux, mandate).status == "active"
    done = browser.post(url, {"reason": "Déménagement"}, follow=True)
    assert f"Mandat {mandate.rum} révoqué" in text(done)
    assert fresh(venissieux, mandate).end_reason == ("Révoqué en ligne par l'usager : "
                                                     "Déménagement")
    again = browser.post(url, {"reason": ""}, follow=True)
    assert "n'est plus utilisé" in text(again)


def test_the_pages_change_the_account_in_two_steps(venissieux, signed, browser):
    mandate = signed
    step1 = f"/mon-espace/prelevement/mandats/{venissieux.pk}/{mandate.pk}/compte/"
    refused = browser.post(step1, {"iban": "FR76\x00300040000312", "bic": NEW_BIC})
    assert refused.status_code == 400 and "caractère" in text(refused)
    answer = browser.post(step1, {"iban": NEW_IBAN, "bic": NEW_BIC})
    assert answer.status_code == 302 and answer["Location"].endswith("compte/confirmer/")
    confirm = browser.get(answer["Location"])
    assert "•••• 0143" in text(confirm) and "1234567890143" not in text(confirm)
    assert browser.post(answer["Location"], {}).status_code == 400
    assert fresh(venissieux, mandate).iban == CA_IBAN.replace(" ", "")
    done = browser.post(answer["Location"], {"accept": "1"}, follow=True)
    assert f"Mandat {mandate.rum} modifié" in text(done)
    assert fresh(venissieux, mandate).iban == NEW_IBAN


def test_a_stranger_gets_404_on_the_pages(venissieux, mandate):
    make_account("stranger@citoyen.test")
    try:
        stranger = sign_in(host_of(venissieux), "stranger@citoyen.test")
        base = f"/mon-espace/prelevement/mandats/{venissieux.pk}/{mandate.pk}/"
        for url in (f"{base}revoquer/", f"{base}compte/", f"{base}compte/confirmer/"):
            assert stranger.get(url).status_code in (302, 404), url
            assert stranger.post(url, {"reason": "x", "iban": NEW_IBAN, "bic": NEW_BIC,
                                       "accept": "1"}).status_code in (302, 404), url
        assert stranger.get(f"{base}revoquer/").status_code == 404
        assert stranger.post(f"{base}revoquer/", {"reason": "x"}).status_code == 404
        assert stranger.post(f"{base}compte/", {"iban": NEW_IBAN,
                                                "bic": NEW_BIC}).status_code == 404
    finally:
        get_user_model().objects.filter(email="stranger@citoyen.test").delete()
    assert fresh(venissieux, mandate).status == "active"
