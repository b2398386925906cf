"""Brute-force limits that hold: each attempt is counted (atomically) before it is checked,
on the account as the account lookup reads it, on the sign-in's own account for the second
factor (never a field of the form), with a per-address limit a town hall's agents stay
under (docs/operations.md, « Limites de tentatives »)."""

from __future__ import annotations

import datetime
import threading
import time

import pyotp
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from django.utils import timezone

from opsn.agents.models import Role
from opsn.citizens import services
from opsn.citizens.errors import TooManyAttempts, WrongCode
from opsn.citizens.models import LinkAttempt
from opsn.communes.models import Commune
from opsn.idp.models import Identity
from opsn.kernel import rates
from opsn.operations import throttle
from opsn.operations.models import Throttle
from tests.helpers.communes import VENISSIEUX
from tests.helpers.identity import IDP_HOST, PASSWORD, fresh_code, grant, make_account

CITIZEN = "fc|5d1e-guessing-citizen"
RIGHT, WRONG = "password", "wrong"


def at_once(count: int, attempt) -> list:
    """``attempt(n)`` from ``count`` threads released together, each with its own database
    connection (as many requests served at once); the outcomes in any order."""
    barrier = threading.Barrier(count)
    outcomes: list = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes.append(attempt(n))
        except Exception as exc:  # the outcome is what the test reads
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcomes


def test_thirty_wrong_link_codes_at_once_check_no_more_than_the_limit(committed, settings):
    settings.OPSN_LINK_MAX_FAILURES = 5
    venissieux = Commune.objects.get(insee_code=VENISSIEUX)

    def guess(n: int):
        return services.payer_link_by_code(subject=CITIZEN, commune=venissieux,
                                           code=f"ZZZZ-ZZZZ-{n:04d}", ip="198.51.100.20")

    try:
        outcomes = at_once(30, guess)
        checked = [o for o in outcomes if isinstance(o, WrongCode)]
        stopped = [o for o in outcomes if isinstance(o, TooManyAttempts)]
        assert len(checked) + len(stopped) == 30, outcomes
        assert len(checked) == 5  # the limit, not one more
        assert LinkAttempt.objects.filter(subject=CITIZEN).count() == 5
        assert all("Trop de codes erronés" in o.message for o in stopped)
        # The day's count holds the five codes checked, not the flood.
        assert Throttle.objects.get(scope="link-code-day").count == 5
    finally:
        LinkAttempt.objects.filter(subject=CITIZEN).delete()


def test_thirty_wrong_passwords_at_once_check_no_more_than_the_limit(committed):
    make_account("cible@citoyen.fr")
    try:
        outcomes = at_once(30, lambda n: Client(HTTP_HOST=IDP_HOST).post(
            "/connexion/", {"email": "cible@citoyen.fr", "password": f"{WRONG}{n}"}
        ).status_code)
        assert sorted(outcomes) == [400] * 5 + [429] * 25
    finally:
        get_user_model().objects.filter(username="cible@citoyen.fr").delete()


def idp_sign_in(email: str, password: str = PASSWORD, **extra) -> Client:
    client = Client(HTTP_HOST=IDP_HOST, **extra)
    client.post("/connexion/", {"email": email, "password": password})
    return client


def wrong_code(account: str) -> str:
    """A code the authenticator shows at no step the provider accepts now."""
    totp = pyotp.TOTP(Identity.objects.get(user__username=account).totp_secret)
    step = int(time.time() // totp.interval)
    valid = {totp.at(s * totp.interval) for s in (step - 1, step, step + 1, step + 2)}
    return next(c for c in (f"{n:06d}" for n in range(123456, 999999, 7)) if c not in valid)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("typed", [[" camille@citoyen.fr", "CAMILLE@citoyen.fr\t",
                                    "Camille@Citoyen.fr ", "\tcamille@citoyen.fr",
                                    "camille@CITOYEN.FR\n"]])
def test_the_ways_of_typing_one_address_share_one_counter(db, typed):
    make_account("camille@citoyen.fr")
    for email in typed:  # five wrong passwords, each typed differently
        page = Client(HTTP_HOST=IDP_HOST).post("/connexion/", {"email": email,
                                                              "password": WRONG})
        assert page.status_code == 400
        assert "Adresse électronique ou mot de passe incorrect." in page.content.decode()
    client = Client(HTTP_HOST=IDP_HOST)
    locked = client.post("/connexion/", {"email": "  camille@citoyen.FR", "password": PASSWORD})
    assert locked.status_code == 429  # the right password too, while the account is locked
    assert "Trop de tentatives de connexion" in locked.content.decode()
    assert not signed_in(client)
    # Another account is not held back by this one's lock.
    make_account("lucas@citoyen.fr")
    assert signed_in(idp_sign_in("lucas@citoyen.fr"))


def test_a_right_password_clears_the_accounts_count(db):
    make_account("camille@citoyen.fr")
    for _ in range(4):
        assert idp_sign_in("camille@citoyen.fr", WRONG).session.get("_auth_user_id") is None
    assert signed_in(idp_sign_in("camille@citoyen.fr"))
    for _ in range(4):  # four more mistakes are not a lock: the count started again
        assert Client(HTTP_HOST=IDP_HOST).post("/connexion/", {
            "email": "camille@citoyen.fr", "password": WRONG}).status_code == 400
    assert signed_in(idp_sign_in("camille@citoyen.fr"))


def test_a_forged_email_field_on_the_code_form_bypasses_nothing(venissieux):
    make_account("agent@venissieux.fr")
    grant(venissieux, "agent@venissieux.fr", Role.REGISSEUR)
    client = idp_sign_in("agent@venissieux.fr")
    code = wrong_code("agent@venissieux.fr")
    for n in range(5):
        page = client.post("/connexion/code/", {"code": code, "email": f"leurre{n}@x.fr"})
        assert page.status_code == 400
    user = get_user_model().objects.get(username="agent@venissieux.fr")
    locked = client.post("/connexion/code/", {"code": fresh_code(user),
                                              "email": "encore-un-autre@x.fr"})
    assert locked.status_code == 429  # the right code, refused while the account is locked
    assert "Trop de tentatives de connexion" in locked.content.decode()
    assert not signed_in(client)
    # A new sign-in (right password, new session) does not unlock the second factor.
    again = idp_sign_in("agent@venissieux.fr")
    assert again.post("/connexion/code/", {"code": fresh_code(user)}).status_code == 429
    assert not signed_in(again)


def test_one_agents_wrong_codes_do_not_lock_out_another_agent_at_the_same_address(venissieux):
    for account in ("agent.a@venissieux.fr", "agent.b@venissieux.fr"):
        make_account(account)
        grant(venissieux, account, Role.REGISSEUR)
    town_hall = {"REMOTE_ADDR": "203.0.113.10"}
    a = idp_sign_in("agent.a@venissieux.fr", **town_hall)
    for _ in range(5):
        assert a.post("/connexion/code/", {"code": wrong_code("agent.a@venissieux.fr")}
                      ).status_code == 400
    user_a = get_user_model().objects.get(username="agent.a@venissieux.fr")
    assert a.post("/connexion/code/", {"code": fresh_code(user_a)}).status_code == 429

    b = idp_sign_in("agent.b@venissieux.fr", **town_hall)
    user_b = get_user_model().objects.get(username="agent.b@venissieux.fr")
    answer = b.post("/connexion/code/", {"code": fresh_code(user_b)})
    assert answer.status_code == 302 and signed_in(b)


def test_one_address_is_limited_across_accounts(db, settings):
    settings.OPSN_IDP_ADDRESS_RATE = "6/15m"
    for n in range(6):  # six wrong passwords for six accounts from one address
        answer = Client(HTTP_HOST=IDP_HOST, REMOTE_ADDR="198.51.100.7").post(
            "/connexion/", {"email": f"personne{n}@x.fr", "password": WRONG})
        assert answer.status_code == 400
    make_account("camille@citoyen.fr")
    stopped = idp_sign_in("camille@citoyen.fr", REMOTE_ADDR="198.51.100.7")
    assert not signed_in(stopped)
    # Another address signs in.
    assert signed_in(idp_sign_in("camille@citoyen.fr", REMOTE_ADDR="198.51.100.8"))


def test_right_sign_ins_do_not_use_up_the_addresss_limit(db, settings):
    settings.OPSN_IDP_ADDRESS_RATE = "3/15m"
    make_account("camille@citoyen.fr")
    for _ in range(5):  # a town hall signs in all morning from one address
        assert signed_in(idp_sign_in("camille@citoyen.fr", REMOTE_ADDR="203.0.113.10"))


@pytest.mark.parametrize("forwarded", ["203.0.113.1", "203.0.113.2, 10.0.0.1", "garbage"])
def test_a_forwarded_address_is_ignored_unless_a_trusted_proxy_sent_it(db, settings,
                                                                        forwarded):
    settings.OPSN_IDP_ADDRESS_RATE = "3/15m"
    settings.OPSN_TRUSTED_PROXIES = []
    for n in range(3):
        Client(HTTP_HOST=IDP_HOST, REMOTE_ADDR="198.51.100.7",
               HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").post(
            "/connexion/", {"email": f"personne{n}@x.fr", "password": WRONG})
    make_account("camille@citoyen.fr")
    # A new X-Forwarded-For is no new address: 198.51.100.7 is the client.
    client = idp_sign_in("camille@citoyen.fr", REMOTE_ADDR="198.51.100.7",
                         HTTP_X_FORWARDED_FOR=forwarded)
    assert not signed_in(client)


def test_behind_a_trusted_proxy_each_client_is_counted_apart(db, settings):
    settings.OPSN_IDP_ADDRESS_RATE = "3/15m"
    settings.OPSN_TRUSTED_PROXIES = ["10.42.0.0/16"]
    ingress = {"REMOTE_ADDR": "10.42.3.7"}
    for n in range(3):  # one client's mistakes, through the ingress
        Client(HTTP_HOST=IDP_HOST, HTTP_X_FORWARDED_FOR="198.51.100.7", **ingress).post(
            "/connexion/", {"email": f"personne{n}@x.fr", "password": WRONG})
    make_account("camille@citoyen.fr")
    # Another client behind the same ingress is not held back…
    assert signed_in(idp_sign_in("camille@citoyen.fr", HTTP_X_FORWARDED_FOR="198.51.100.8",
                                 **ingress))
    # …and the first one cannot pose as another by writing its own X-Forwarded-For.
    assert not signed_in(idp_sign_in("camille@citoyen.fr",
                                     HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.7", **ingress))


def test_a_counter_holds_for_its_period_then_starts_again(db):
    limit = throttle.Limit("test", "quelqu'un", throttle.Rate.parse("2/15m"))
    assert throttle.take(limit) is None
    assert throttle.take(limit) is None
    refused = throttle.take(limit)
    assert refused is not None and refused.count == 3
    Throttle.objects.filter(scope="test").update(until=refused.until.replace(year=2000))
    assert throttle.take(limit) is None  # its period has passed
    assert Throttle.objects.get(scope="test").count == 1
    assert "quelqu'un" not in Throttle.objects.get(scope="test").key  # a keyed hash
    assert throttle.forget_expired() == 0
    assert throttle.forget_expired(timezone.now() + datetime.timedelta(minutes=16)) == 1


@pytest.mark.parametrize("text", ["", "5", "0/15m", "5/15x", "cinq/15m"])
def test_a_wrong_rate_stops_the_start_naming_its_variable(text):
    with pytest.raises(ValueError, match="n'est pas une limite"):
        throttle.Rate.parse(text)
    with pytest.raises(ImproperlyConfigured, match="OPSN_IDP_CODE_RATE : .* n'est pas une"):
        rates.setting("OPSN_IDP_CODE_RATE", text)
    assert throttle.Rate.parse("20/1d") == throttle.Rate(20, datetime.timedelta(days=1))
