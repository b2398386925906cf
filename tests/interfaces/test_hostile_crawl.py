"""Every page, with hostile query strings (issue 15): the URL patterns of a commune's site
(its own pages, the agents' régie pages, the citizen's space, the sign-in seam, the PayFiP
notification), of the operator's hosts (the console, billing, the portal's citizen space
and the local PayFiP provider) and of the local identity provider are collected from the
URL maps themselves — a page added tomorrow is crawled without a word here — resolved
with the real ids of the demo's régie (``regies_demo``: the canteen of Vénissieux, its
families, invoices, receipts, PayFiP account), and requested signed in as the person each
page is for: an agent who is the commune's administrator and the régie's titulaire, a
citizen linked to a family, the operator's staff; anonymous for the sign-in seam, the
notification and the provider.

Each page is requested as it is; then with every query parameter any page reads set to
a harmless value, which also tells which names this page asks its query string for
(``reads_recorded``: a view's ``request.GET.get``, a form bound to it, a template's
lookup); then, for each hostile value — a NUL byte, a 10,000-character value, -1, a
40-digit number, ``%FF`` (not UTF-8), ``<script>`` — once with every parameter at once
and once per parameter the page reads (alone: one refused value does not mask another).
None may answer a 5xx, and a page that echoes ``<script>`` escapes it.

Requests: 2 + 6 × (1 + the names it reads) per URL pattern; with today's 98 patterns,
22 of which read 55 names in all: 98 × 8 + 55 × 6 = 1,114 requests, about 30 seconds on
one worker.
"""

from __future__ import annotations

import datetime
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from django.core.signals import got_request_exception
from django.http import QueryDict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from opsn.citizens import services as citizen_services
from opsn.communes import services as commune_services
from opsn.kernel.tenancy import inside
from opsn.operations.demo_regies import regies_demo
from opsn.regie_pages.forms import AuditFilter, JournalFilter, PeriodForm
from opsn.regies.models import Assignment, Invoice, LedgerEntry, Payer, Regie
from tests.helpers.communes import host_of
from tests.helpers.identity import IDP_HOST, grant, make_account, sign_in

CONSOLE = "console.localhost"
PORTAL = "localhost"
AGENT = "regisseur@venissieux.demo"
CITIZEN = "camille.durand@citoyen.demo"
HOSTILE = ["%00", quote("x" * 10_000), "-1", "1234567890" * 4, "%FF", quote("<script>")]
# Every query parameter a page reads (its GET forms' fields are added below).
PARAMETERS = {"q", "page", "annee", "commune", "regie", "mode", "statut", "status", "module",
              "departement", "epci", "jour", "produit", "verifier", "next", "idop", "idOp",
              "quittance", "code", "state", "error", "year", "client_id", "redirect_uri",
              "response_type", "scope", "nonce", "code_challenge", "code_challenge_method",
              "id_token_hint", "post_logout_redirect_uri", "date"}
for form in (JournalFilter, AuditFilter, PeriodForm):
    PARAMETERS |= set(form.base_fields)
# The APIs are fuzzed from their OpenAPI documents (test_api_fuzz.py).
SKIPPED_NAMESPACES = {"commune_api", "operator_api"}
MINIMUM_PATTERNS = 90  # 98 today: fewer means the collection broke


def patterns(urlconf: str) -> list[tuple[str, tuple[str, ...]]]:
    """(``namespace:name``, the names of its arguments) of every named page of a URL map."""
    found: set[tuple[str, tuple[str, ...]]] = set()

    def walk(entries, namespace: str) -> None:
        for entry in entries:
            if isinstance(entry, URLResolver):
                if entry.namespace not in SKIPPED_NAMESPACES:
                    walk(entry.url_patterns, ":".join(
                        p for p in (namespace, entry.namespace or "") if p))
            elif isinstance(entry, URLPattern) and entry.name:
                found.add((f"{namespace}:{entry.name}" if namespace else entry.name,
                           tuple(entry.pattern.converters)))

    walk(get_resolver(urlconf).url_patterns, "")
    return sorted(found)


@pytest.fixture
def demo(venissieux):
    """The demo's régie in Vénissieux, its agent and a citizen, signed in; the real ids."""
    regies_demo(venissieux)
    with inside(venissieux):
        regie = Regie.objects.get(number="R-CANT")
        durand = Payer.objects.get(regie=regie, name="Famille Durand")
        invoice = Invoice.objects.filter(payer=durand).first()
        entry = LedgerEntry.objects.filter(regie=regie).order_by("id").first()
        assignment = Assignment.objects.filter(regie=regie).first()
    make_account(AGENT)
    grant(venissieux, AGENT, "regisseur", "administrator")
    make_account(CITIZEN)
    link = citizen_services.payer_link_by_email(subject=CITIZEN, commune=venissieux,
                                                payer_id=durand.pk,
                                                verified_email=CITIZEN)
    batch = commune_services.batch_prepare(insee_codes=["69273"])
    year = datetime.date.today().year
    ids = {
        "number": regie.number, "year": entry.year, "receipt": entry.receipt_number,
        "slip": 1, "item_id": 1, "batch_id": 1, "payer_id": durand.pk, "invoice_id": invoice.pk,
        "assignment_id": assignment.pk, "link_id": link.pk, "commune_id": venissieux.pk,
        "payment_id": 1, "entry_id": entry.pk, "insee_code": venissieux.insee_code,
        "pk": batch.pk, "uidb64": "MQ", "token": "abc-123", "action": "send", "budget_id": 1,
        "mandate_id": 1, "handover_id": 1, "collection_id": 1,
    }
    # The operator's invoices are numbered apart from the régies.
    by_namespace = {"billing": {"number": f"OPSN-{year}-0001", "year": year, "pk": 1},
                    "commune_site": {"number": f"OPSN-{year}-0001"},
                    # Another version's archive: a redirect to the running one's.
                    "public_service": {"name": "opsn-0.0.0.tar.gz"}}
    return {"commune": venissieux, "ids": ids, "by_namespace": by_namespace,
            "clients": {
                "agent": sign_in(host_of(venissieux), AGENT),
                "citizen": sign_in(host_of(venissieux), CITIZEN),
                "portal_citizen": sign_in(PORTAL, CITIZEN),
                "operator": None,  # the ``console`` fixture's
            }}


def who(namespace: str, host: str) -> str:
    if namespace == "citizens":
        return "citizen" if host != PORTAL else "portal_citizen"
    if namespace in ("regie_pages", "commune_site"):
        return "agent"
    if namespace in ("console", "billing"):
        return "operator"
    return "anonymous"  # sign-in seam, PayFiP's notification and local provider, idp


INTERNAL = {"django.utils.datastructures", "django.http.request", "opsn.operations.input_guard"}


@contextmanager
def reads_recorded() -> Iterator[set[str]]:
    """The names a page asks its query string for (``request.GET.get("q")``, a form bound
    to it), whether the request carries them or not."""
    seen: set[str] = set()
    patched = {}
    for method in ("get", "getlist", "__getitem__", "__contains__"):
        original = getattr(QueryDict, method)
        patched[method] = QueryDict.__dict__.get(method)

        def recorded(self, key, *args, _original=original, **kwargs):
            # Not the dictionary's own reads (``lists()`` reads every key), nor the guard's.
            if sys._getframe(1).f_globals.get("__name__") not in INTERNAL:
                seen.add(key)
            return _original(self, key, *args, **kwargs)

        setattr(QueryDict, method, recorded)
    try:
        yield seen
    finally:
        for method, own in patched.items():
            if own is None:
                delattr(QueryDict, method)
            else:
                setattr(QueryDict, method, own)


def test_no_page_answers_5xx_to_hostile_query_strings(demo, console):
    errors: list[str] = []

    def keep(sender, request=None, **kwargs):
        errors.append(traceback.format_exc())

    got_request_exception.connect(keep, dispatch_uid="hostile-crawl")
    clients = {**demo["clients"], "operator": console}
    commune_host = host_of(demo["commune"])
    maps = [(commune_host, "opsn.urls_commune"), (CONSOLE, "opsn.urls_public"),
            (IDP_HOST, "opsn.urls_idp")]
    sent, crawled, failures = 0, 0, []

    def get(client, host: str, role: str, path: str, query: str, *, hostile: bool):
        nonlocal sent
        errors.clear()
        response = client.get(path + query, HTTP_HOST=host)
        sent += 1
        if response.status_code >= 500:
            failures.append(f"{response.status_code} {role} {host}{path}{query[:160]}\n"
                            f"{''.join(errors)[-3000:]}")
        elif hostile and "%3Cscript%3E" in query and b"<script>" in response.content:
            failures.append(f"unescaped <script> on {host}{path}{query[:160]}")

    try:
        for host, urlconf in maps:
            for name, arguments in patterns(urlconf):
                namespace = name.split(":")[0]
                # The portal serves the citizens' space and the local PayFiP provider.
                portal = urlconf == "opsn.urls_public" and namespace in ("citizens",
                                                                         "payfip_local")
                here = PORTAL if portal else host
                values = {**demo["ids"], **demo["by_namespace"].get(namespace, {})}
                path = reverse(name, urlconf=urlconf,
                               kwargs={a: values[a] for a in arguments})
                role = who(namespace, here)
                client = clients.get(role) or Client(HTTP_HOST=here)
                client.raise_request_exception = False  # a 500 is counted, not raised
                crawled += 1
                get(client, here, role, path, "", hostile=False)
                # Which names does the page read? Ask with every name, harmless values.
                with reads_recorded() as read:
                    get(client, here, role, path, "?" + "&".join(
                        f"{p}=1" for p in sorted(PARAMETERS)), hostile=False)
                for value in HOSTILE:
                    get(client, here, role, path, "?" + "&".join(
                        f"{p}={value}" for p in sorted(PARAMETERS)), hostile=True)
                    for parameter in sorted(read):  # one at a time: none masks another
                        get(client, here, role, path, f"?{quote(parameter)}={value}",
                            hostile=True)
    finally:
        got_request_exception.disconnect(dispatch_uid="hostile-crawl")
    assert not failures, "\n\n".join(failures[:10]) + f"\n\n({len(failures)} in all)"
    print(f"hostile crawl: {crawled} URL patterns, {sent} requests, no 5xx")  # -s
    assert crawled >= MINIMUM_PATTERNS, (crawled, sent)
