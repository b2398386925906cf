"""The daily warnings job: the keepers of a régie whose deposit is late or whose maximum
cash is reached hear of it by e-mail, in their own commune only, once a day."""

import datetime
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from opsn.agents.models import AgentRole, Role
from opsn.audit.models import AuditEvent
from opsn.jobs.broker import send
from opsn.jobs.periodic import tick
from opsn.kernel.actors import Actor
from opsn.regies import tasks
from opsn.regies.models import AssignmentRole
from opsn.regies.services import cashdesk, founding
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import in_schema
from tests.helpers.regies import (
    ADMIN,
    OPENED,
    SUPPLEANT,
    TITULAIRE,
    make_agents,
    make_payer,
    make_regie,
)

VAULX_TITULAIRE = "regisseuse@vaulx-en-velin.fr"


def days_ago(days: int):
    return mock.patch("django.utils.timezone.now",
                      return_value=timezone.now() - datetime.timedelta(days=days))


def overdue_regie():
    """A régie that deposits weekly, holding a payment of ten days ago."""
    regie = make_regie(deposit_period_days=7)
    with days_ago(10):
        payment_record(regie=regie, actor=TITULAIRE, amount="40", mode="cash",
                       payer=make_payer(regie))
    return regie


def same_number_elsewhere():
    """Vaulx-en-Velin's régie R-001, with its own titulaire and a payment of today."""
    make_agents()
    AgentRole.objects.create(account=VAULX_TITULAIRE, role=Role.REGISSEUR)
    regie = founding.regie_create(actor=ADMIN, number="R-001", name="Piscine",
                                  accepted_modes=["cash"], cash_limit="500",
                                  deposit_period_days=7, starts_on=OPENED)
    founding.assignment_grant(regie=regie, actor=ADMIN, account=VAULX_TITULAIRE,
                              role=AssignmentRole.TITULAIRE, starts_on=OPENED)
    payment_record(regie=regie, actor=Actor(VAULX_TITULAIRE, "Inès Garcia"), amount="40",
                   mode="cash", payer=make_payer(regie, "Famille Garcia"))
    return regie


def warnings_mail():
    return [m for m in mail.outbox if m.subject.startswith("Régie ")]


def sent_events():
    return list(AuditEvent.objects.filter(code="warning.sent").values_list(
        "target", "data__warning", "data__day"))


def test_the_titulaire_of_the_overdue_regie_is_told_once_a_day(venissieux, vaulx):
    with in_schema(venissieux):
        regie = overdue_regie()
    with in_schema(vaulx):
        same_number_elsewhere()
    mail.outbox.clear()

    assert "regies-warnings" in tick()  # the scheduler enqueues it (run at once in tests)
    [message] = warnings_mail()
    assert message.to == [TITULAIRE.account]
    assert message.subject == ("Régie R-001 Cantine et périscolaire : versement en retard")
    assert message.from_email == "Mairie de Vénissieux <support@opsn.example.fr>"
    assert "Mairie de Vénissieux" in message.body and "SGC de Vénissieux" in message.body
    assert "Versement en retard : des recettes du" in message.body
    today = f"{timezone.localdate():%d/%m/%Y}"
    with in_schema(venissieux):
        assert sent_events() == [(f"regie:{regie.pk}", "deposit_overdue", today)]
    with in_schema(vaulx):
        assert sent_events() == []

    # however often it runs the same day, nothing more
    for _ in range(3):
        send(tasks.warn_regies)
    assert len(warnings_mail()) == 1

    # the next day, once again
    tomorrow = timezone.now() + datetime.timedelta(days=1)
    with mock.patch("django.utils.timezone.now", return_value=tomorrow):
        send(tasks.warn_regies)
        send(tasks.warn_regies)
    assert len(warnings_mail()) == 2
    with in_schema(venissieux):
        assert len(sent_events()) == 2


def test_a_maximum_cash_reached_goes_to_the_titulaire_and_the_standing_in_suppleant(venissieux):
    with in_schema(venissieux):
        regie = make_regie(cash_limit="100")
        founding.standin_record(regie=regie, actor=ADMIN, account=SUPPLEANT.account,
                                starts_on=timezone.localdate(),
                                ends_on=timezone.localdate() + datetime.timedelta(days=3))
        payment_record(regie=regie, actor=TITULAIRE, amount="100", mode="cash",
                       payer=make_payer(regie))
        mail.outbox.clear()
        send(tasks.warn_commune_regies, commune=venissieux)
        [message] = warnings_mail()
        assert message.to == [TITULAIRE.account, SUPPLEANT.account]
        assert message.subject.endswith(": encaisse maximale atteinte")
        assert "Encaisse maximale atteinte : 100,00" in message.body

        # once deposited, nothing to say the next day
        cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        with mock.patch("django.utils.timezone.now",
                        return_value=timezone.now() + datetime.timedelta(days=1)):
            send(tasks.warn_commune_regies, commune=venissieux)
        assert len(warnings_mail()) == 1


def test_a_regie_only_near_its_maximum_is_not_mailed(venissieux):
    with in_schema(venissieux):
        near = make_regie(cash_limit="100")
        payment_record(regie=near, actor=TITULAIRE, amount="90", mode="cash",
                       payer=make_payer(near))
        mail.outbox.clear()
        send(tasks.warn_commune_regies, commune=venissieux)
        assert warnings_mail() == []


def test_the_commune_job_refuses_to_run_outside_a_commune(db):
    with pytest.raises(RuntimeError, match="inside a commune"):
        tasks.warn_commune_regies.fn()
