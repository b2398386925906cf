"""A form posted with a number no database column takes is a clear refusal, not a 500:
the counter's payer (a hidden field of the form, which the input guard leaves to the form
since a form field may hold long digits; Django 5 finds no row for an out-of-range id,
and the form's field is bounded: tests/architecture/test_form_numbers.py)."""

from __future__ import annotations

from opsn.agents.models import AgentRole
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import grant, make_account, sign_in
from tests.helpers.regies import MANDATAIRE, make_regie


def test_the_counter_posted_with_a_twenty_digit_payer_is_not_a_500(venissieux):
    with in_schema(venissieux):
        make_regie()
        roles = list(AgentRole.objects.filter(account=MANDATAIRE.account)
                     .values_list("role", flat=True))
    make_account(MANDATAIRE.account)
    grant(venissieux, MANDATAIRE.account, *roles)
    client = sign_in(host_of(venissieux), MANDATAIRE.account)
    for payer in ("99999999999999999999", "9223372036854775808", "-5", "0012"):
        response = client.post("/espace/regies/R-001/guichet/",
                               {"payer": payer, "amount": "5", "mode": "cash"})
        assert response.status_code == 404, (payer, response.status_code)
