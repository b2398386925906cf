"""A régie as its founding act makes it, and who may collect, close and deposit for it."""

import datetime

import pytest
from django.utils import timezone

from opsn.audit.models import AuditEvent
from opsn.regies.errors import Duplicate, NotAllowed, NotFound, Refused, RegieError
from opsn.regies.models import Assignment, AssignmentRole, Handover, Regie
from opsn.regies.permissions import may_collect, may_keep
from opsn.regies.services import cashdesk, founding
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import in_schema
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    OPENED,
    STRANGER,
    SUPPLEANT,
    TITULAIRE,
    make_agents,
    make_payer,
    make_regie,
)

TODAY = timezone.localdate


def test_a_regie_is_created_from_its_founding_act(venissieux):
    with in_schema(venissieux):
        make_agents()
        regie = founding.regie_create(
            actor=ADMIN, number="R-PISC", name="Piscine municipale",
            accepted_modes=["cash", "card", "cash"], cash_limit="1 500,00", cash_float="80",
            deposit_period_days="15", accountant="SGC de Vénissieux",
            founding_act="arrêté n° 2024-118 du 3 mai 2024", starts_on=OPENED)
        regie.refresh_from_db()
        assert (regie.accepted_modes, str(regie.cash_limit), str(regie.cash_float),
                regie.deposit_period_days) == (["cash", "card"], "1500.00", "80.00", 15)
        event = AuditEvent.objects.get(code="regie.created")
        assert (event.actor, event.ip, event.summary) == (
            ADMIN.account, ADMIN.ip, "Création de la régie R-PISC Piscine municipale")


@pytest.mark.parametrize("changes, field, message", [
    ({"number": " "}, "number", "numéro de la régie manque"),
    ({"name": ""}, "name", "nom de la régie manque"),
    ({"accepted_modes": []}, "accepted_modes", "au moins un mode"),
    ({"accepted_modes": ["cash", "bitcoin"]}, "accepted_modes", r"inconnu\(s\) : bitcoin"),
    ({"deposit_period_days": 45}, "deposit_period_days", "au moins une fois par mois"),
    ({"deposit_period_days": "mensuel"}, "deposit_period_days", "nombre de jours"),
    ({"cash_limit": "-10"}, "cash_limit", "négatif"),
    ({"cash_limit": "10.005"}, "cash_limit", "plus de deux décimales"),
    ({"ends_on": datetime.date(2019, 1, 1)}, "ends_on", "doit suivre"),
])
def test_a_founding_act_with_errors_is_refused(venissieux, changes, field, message):
    act = {"number": "R-9", "name": "Médiathèque", "accepted_modes": ["cash"],
           "cash_limit": "500", "starts_on": OPENED}
    act.update(changes)
    with in_schema(venissieux):
        with pytest.raises(RegieError, match=message) as refused:
            founding.regie_create(actor=ADMIN, **act)
        assert refused.value.field == field
        assert not Regie.objects.exists() and not AuditEvent.objects.exists()


def test_the_number_of_a_regie_is_unique(venissieux):
    with in_schema(venissieux):
        make_regie("R-001")
        with pytest.raises(Duplicate, match="déjà le numéro R-001"):
            make_regie("R-001", name="Autre")


def test_an_amendment_changes_the_act_and_says_what_changed(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        founding.regie_amend(regie=regie, actor=ADMIN, cash_limit="3000", name="Cantine")
        regie.refresh_from_db()
        assert (regie.cash_limit, regie.name) == (3000, "Cantine")
        summary = AuditEvent.objects.get(code="regie.amended").summary
        assert "cash_limit = 3000.00" in summary and "name = Cantine" in summary
        with pytest.raises(RegieError, match="non modifiable"):
            founding.regie_amend(regie=regie, actor=ADMIN, number="R-777")


def test_products_carry_a_price_and_a_code_unique_in_the_regie(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        repas = founding.product_save(regie=regie, actor=ADMIN, code="REPAS",
                                      name="Repas enfant", unit_price="3,85")
        again = founding.product_save(regie=regie, actor=ADMIN, code="repas",
                                      name="Repas enfant", unit_price="3.95")
        assert again.pk == repas.pk and str(again.unit_price) == "3.95"
        with pytest.raises(RegieError, match="plus de deux décimales"):
            founding.product_save(regie=regie, actor=ADMIN, code="gouter", name="Goûter",
                                  unit_price="0.555")


def test_only_appointed_agents_collect(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        for actor in (TITULAIRE, SUPPLEANT, MANDATAIRE):
            payment_record(regie=regie, actor=actor, amount="5", mode="cash", payer=payer)
        with pytest.raises(NotAllowed, match="ni régisseur ni mandataire"):
            payment_record(regie=regie, actor=STRANGER, amount="5", mode="cash", payer=payer)
        with pytest.raises(NotAllowed):  # the administrator manages, does not collect
            payment_record(regie=regie, actor=ADMIN, amount="5", mode="cash", payer=payer)
        assert regie.entries.count() == 3


def test_an_ended_appointment_no_longer_collects(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        assignment = Assignment.objects.get(regie=regie, account=MANDATAIRE.account)
        founding.assignment_end(assignment=assignment, actor=ADMIN, ends_on=TODAY())
        assert not may_collect(regie, MANDATAIRE.account, TODAY())
        assert may_collect(regie, MANDATAIRE.account, TODAY() - datetime.timedelta(days=1))


def test_only_named_agents_of_the_commune_are_appointed(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        with pytest.raises(NotFound, match="n'est pas un agent de la commune"):
            founding.assignment_grant(regie=regie, actor=ADMIN, account="guichet@venissieux.fr",
                                      role=AssignmentRole.MANDATAIRE)
        with pytest.raises(Duplicate, match="déjà nommé"):
            founding.assignment_grant(regie=regie, actor=ADMIN, account=MANDATAIRE.account,
                                      role=AssignmentRole.MANDATAIRE)
        with pytest.raises(Refused, match="remise de service"):
            founding.assignment_grant(regie=regie, actor=ADMIN, account=STRANGER.account,
                                      role=AssignmentRole.TITULAIRE)


def test_the_handover_changes_the_titulaire_on_a_date_with_the_funds_held(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payment_record(regie=regie, actor=TITULAIRE, amount="30", mode="cash",
                       payer=make_payer(regie))
        on = TODAY()
        handover = founding.handover_record(regie=regie, actor=ADMIN,
                                            incoming=SUPPLEANT.account, on=on,
                                            notes="Départ en retraite")
        assert (handover.outgoing, handover.incoming, handover.held) == (
            TITULAIRE.account, SUPPLEANT.account, {"cash": "30.00"})
        assert may_keep(regie, SUPPLEANT.account, on)
        assert not may_collect(regie, TITULAIRE.account, on)
        assert may_keep(regie, TITULAIRE.account, on - datetime.timedelta(days=1))
        titulaires = Assignment.objects.filter(regie=regie, role="titulaire").order_by("id")
        assert [(a.account, a.ends_on) for a in titulaires] == [
            (TITULAIRE.account, on), (SUPPLEANT.account, None)]
        with pytest.raises(Exception, match="never changed"):
            Handover.objects.filter(pk=handover.pk).update(notes="réécrit")


def test_the_suppleant_closes_and_deposits_only_while_standing_in(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payment_record(regie=regie, actor=MANDATAIRE, amount="10", mode="cash",
                       payer=make_payer(regie))
        with pytest.raises(NotAllowed, match="Seul le régisseur titulaire"):
            cashdesk.deposit_make(regie=regie, actor=SUPPLEANT)
        with pytest.raises(NotAllowed):
            cashdesk.deposit_make(regie=regie, actor=MANDATAIRE)
        founding.standin_record(regie=regie, actor=TITULAIRE, account=SUPPLEANT.account,
                                starts_on=TODAY(), ends_on=TODAY() + datetime.timedelta(days=7),
                                reason="congés")
        assert cashdesk.deposit_make(regie=regie, actor=SUPPLEANT).total == 10
        with pytest.raises(Refused, match="n'est pas mandataire suppléant"):
            founding.standin_record(regie=regie, actor=TITULAIRE, account=MANDATAIRE.account,
                                    starts_on=TODAY(), ends_on=TODAY())
