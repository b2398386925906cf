"""Both OpenAPI documents, fuzzed with schemathesis (issue 15): every operation of the
operator's API (its document at /api/v1/openapi.json on the console host, with an
operator token) and of a commune's API (on Vénissieux's domain, with a service credential
appointed to a régie that has payers, invoices and receipts) gets requests generated from
its schema — paths, query strings, bodies — sent through the whole platform (routing, the
input guard, the API, the services) to the real database, inside the test's transaction.
None may answer a 5xx (schemathesis' ``not_a_server_error`` check).

Bounded and repeatable: about ``EXAMPLES`` (25) generated requests per operation, valid
for the schema and not (schemathesis' positive and negative modes: wrong types, missing
fields, a body that is not the documented object), derandomized: the same requests on
every run, so that a failure is one to fix, not one to be lucky with. 11 operations of the
operator's API (276 requests) and 8 of the commune's (201 requests): 477 requests, about
35 seconds on one worker. Path parameters that name something (a commune, a domain, a
batch, a régie, a receipt, an invoice) are given a real value one time in two, so that
the generated query strings and bodies reach the services rather than stopping at a 404.
To explore further (random, more examples): ``OPSN_FUZZ_RANDOM=1 OPSN_FUZZ_EXAMPLES=500``.
"""

from __future__ import annotations

import os
import random
import traceback
from collections.abc import Callable

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from opsn.agents.services import service_credential_issue
from opsn.communes import services
from opsn.regies.services import founding
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import host_of, in_schema
from tests.helpers.regies import ADMIN, OPENED, TITULAIRE, make_invoice, make_payer, make_regie

EXAMPLES = int(os.environ.get("OPSN_FUZZ_EXAMPLES", "25"))
OPERATOR_HOST = "console.localhost"


class InTransaction(WSGIHandler):
    """Django's WSGI handler, as a server runs it, but inside the test's transaction:
    connections are not closed at the end of each request (Django's test client does the
    same), and an exception that became a 500 is kept to be shown."""

    def __init__(self):
        super().__init__()
        self.errors: list[str] = []

    def __call__(self, environ, start_response):
        environ.pop("wsgi.file_wrapper", None)  # read the body here, while in the window
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        got_request_exception.connect(self._keep, dispatch_uid="api-fuzz")
        try:
            response = super().__call__(environ, start_response)
            body = b"".join(response)
            response.close()
            return [body]
        finally:
            got_request_exception.disconnect(dispatch_uid="api-fuzz")
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)

    def _keep(self, sender, request=None, **kwargs):
        self.errors.append(traceback.format_exc())


def fuzz(schema, *, base_url: str, headers: dict[str, str],
         adjust: Callable[[schemathesis.Case, random.Random], None] | None = None) -> int:
    """Sends about ``EXAMPLES`` generated requests to each operation of ``schema``; fails on
    the first 5xx with the request (as curl) and the server's traceback. Returns how many
    requests were sent."""
    # The credential is sent as given: negative cases break the request, not its secret.
    schema.config.generation.update(with_security_parameters=False)
    return sum(_fuzz(result.ok(), schema.app, base_url=base_url, headers=headers,
                     adjust=adjust) for result in schema.get_all_operations())


def _fuzz(operation, app: InTransaction, *, base_url: str, headers: dict[str, str],
          adjust) -> int:
    chance = random.Random(operation.label)  # repeatable, as the generated requests are
    sent = 0

    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         derandomize=not os.environ.get("OPSN_FUZZ_RANDOM"),
                         phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE)))
    def run(case):
        nonlocal sent
        if adjust is not None:
            adjust(case, chance)
        app.errors.clear()
        response = case.call(base_url=base_url, headers=headers)
        sent += 1
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except Exception as failure:
            raise AssertionError(
                f"{operation.label}: {response.status_code}\n"
                f"{case.as_curl_command(headers=headers)}\n{''.join(app.errors)}"
            ) from failure

    run()
    return sent


def real_names(names: dict[str, str], *, spare: tuple[str, ...] = ()):
    """Gives the path parameters in ``names`` a real value one time in two (not on the
    operations whose label ends with one of ``spare``)."""
    def adjust(case, chance: random.Random) -> None:
        if case.operation.label.endswith(spare):
            return
        for name, value in names.items():
            if name in (case.path_parameters or {}) and chance.random() < 0.5:
                case.path_parameters[name] = value
    return adjust


def test_the_operators_api_answers_no_5xx_to_generated_requests(api_token, venissieux,
                                                                settings, tmp_path):
    settings.OPSN_EXPORT_DIR = tmp_path
    batch = services.batch_prepare(insee_codes=["69273"])
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", InTransaction(),
                                            base_url=f"http://{OPERATOR_HOST}")
    # Offboarding a real commune exports it (pg_dump, seconds): only generated codes there.
    names = {"insee_code": venissieux.insee_code, "domain": host_of(venissieux),
             "batch_id": str(batch.pk)}
    sent = fuzz(schema, base_url=f"http://{OPERATOR_HOST}",
                adjust=real_names(names, spare=("/offboard",)),
                headers={"Authorization": f"Bearer {api_token}"})
    print(f"operator API: {sent} generated requests, no 5xx")  # for the record (-s)
    assert sent >= 10 * EXAMPLES  # 276 with 25 examples


@pytest.fixture
def commune_books(venissieux):
    """Régie R-001 of Vénissieux with a payer, an invoice and a receipt, and a business
    software appointed to it (its secret)."""
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie, "Famille Martin", external_ref="FAM-0042")
        invoice = make_invoice(regie, payer, "45.00", number="F-2026-0001")
        entry = payment_record(regie=regie, actor=TITULAIRE, amount="20.00", mode="cash",
                               invoices=[invoice])
        credential, secret = service_credential_issue(name="cantine-ecoles", actor=ADMIN)
        founding.assignment_grant(regie=regie, actor=ADMIN, account=credential.account,
                                  role="mandataire", starts_on=OPENED)
    return {"number": regie.number, "invoice_number": invoice.number,
            "receipt": entry.receipt, "secret": secret}


def test_a_communes_api_answers_no_5xx_to_generated_requests(venissieux, commune_books):
    base_url = f"http://{host_of(venissieux)}"
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", InTransaction(),
                                            base_url=base_url)

    names = {name: commune_books[name] for name in ("number", "invoice_number", "receipt")}
    sent = fuzz(schema, base_url=base_url, adjust=real_names(names),
                headers={"Authorization": f"Bearer {commune_books['secret']}"})
    print(f"commune API: {sent} generated requests, no 5xx")  # for the record (-s)
    assert sent >= 7 * EXAMPLES  # 201 with 25 examples
