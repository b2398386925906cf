"""Issue 20, part 17: the pages people use, under load, through ``opsn serve``'s gunicorn.

Three pages, each on its own, at ``spread`` communes against the same at 10 communes:

- a commune's home page, anonymous;
- the counter page of a signed-in régisseur, searching a family (« Famille 7 »);
- « Mes paiements » of a signed-in citizen whose payer records are linked in 5 communes.

Two loads for each:

- *50 clients without a pause*: each client sends its next request the moment the last
  one is answered. This is the issue's figure. It is a saturation test: by Little's law
  the mean wait is clients ÷ throughput, so on 2 cores its p95 says how many requests per
  second the machine serves more than how fast one page is;
- *50 people*: the same 50 clients, each pausing 1 s (±50 %) between two pages, as someone
  reading a page does; what a person waits for under that load.

Sign-in is not what is measured: the sessions are written straight into the session store
with what the sign-in leaves in them (user, host, expiry), and each client presents its
cookie. The load is sent by one asyncio process over keep-alive connections (a few tens
of microseconds per request: the client's own cost stays out of the server's figures).
"""

from __future__ import annotations

import asyncio
import datetime
import random
import time
from decimal import Decimal

AGENT = "guichet@bench.example"
REGIE = "R-BENCH"
CLIENTS = 50
LINKED = 5
THINK = 1.0
FAMILIES = 20


def _session(user, host: str) -> str:
    """A session as the sign-in leaves it (accounts.oidc.Callback.login_success); returns
    the Cookie header's value."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib import auth

    from opsn.accounts.oidc import SESSION_EXPIRES, SESSION_HOST, SESSION_SIGNED_IN

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[auth.SESSION_KEY] = str(user.pk)
    store[auth.BACKEND_SESSION_KEY] = "opsn.accounts.oidc.Backend"
    store[auth.HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[SESSION_HOST] = host
    store[SESSION_SIGNED_IN] = time.time()
    store[SESSION_EXPIRES] = time.time() + settings.SESSION_COOKIE_AGE
    store.save()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def _user(subject: str, email: str):
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username=subject,
                                                     defaults={"email": email})
    return user


def _regie_in(commune) -> list[int]:
    """The commune's counter as a régisseur finds it: a régie with its titulaire (the
    bench's agent), families each with three invoices and a few payments. Returns the
    families' payer ids. Idempotent."""
    from django.db import transaction
    from django.utils import timezone

    from opsn.agents.models import AgentRole, Role
    from opsn.kernel.actors import Actor
    from opsn.kernel.tenancy import inside
    from opsn.regies.models import AssignmentRole, Invoice, InvoiceLine, LedgerEntry, Payer
    from opsn.regies.models import Regie as RegieModel
    from opsn.regies.services import founding

    admin = Actor(account="admin@bench.example", name="Administratrice", ip="192.0.2.1")
    opened = datetime.date(2020, 1, 1)
    with inside(commune):
        regie = RegieModel.objects.filter(number=REGIE).first()
        if regie is None:
            AgentRole.objects.get_or_create(account=admin.account, role=Role.ADMINISTRATOR)
            AgentRole.objects.get_or_create(account=AGENT, role=Role.REGISSEUR)
            regie = founding.regie_create(
                actor=admin, number=REGIE, name="Cantine et périscolaire",
                accepted_modes=["cash", "cheque", "card"], cash_limit="100000",
                cash_float="50", accountant="SGC", starts_on=opened)
            founding.assignment_grant(regie=regie, actor=admin, account=AGENT,
                                      role=AssignmentRole.TITULAIRE, starts_on=opened)
            now = timezone.now()
            with transaction.atomic():  # an invoice's total is checked at commit
                payers = Payer.objects.bulk_create([
                    Payer(regie=regie, name=f"Famille {n}",
                          link_code=f"P{commune.pk:05d}{n:04d}") for n in range(FAMILIES)])
                invoices = Invoice.objects.bulk_create([
                    Invoice(regie=regie, payer=p, number=f"F-{p.pk}-{m}",
                            total=Decimal("42.50"),
                            issued_on=datetime.date(2026, 9, 1) + datetime.timedelta(30 * m),
                            due_on=datetime.date(2026, 9, 30) + datetime.timedelta(30 * m),
                            created_by="bench", created_at=now)
                    for p in payers for m in range(3)])
                InvoiceLine.objects.bulk_create([
                    InvoiceLine(invoice=i, label="Repas", quantity=1, unit_price=i.total,
                                amount=i.total) for i in invoices])
            # Payments as the counter records them, chained by the database.
            for n, payer in enumerate(payers[:10], 1):
                LedgerEntry.objects.create(
                    regie=regie, year=2026, receipt_number=n, amount=Decimal("12.30"),
                    mode="cash", payer=payer, payer_name=payer.name, details={},
                    agent=AGENT, posted_at=now - datetime.timedelta(days=n))
        return list(Payer.objects.filter(regie=regie).order_by("pk")
                    .values_list("pk", flat=True))


def prepare(communes: list, label: str) -> dict[str, list[tuple[str, str, str]]]:
    """For each page, the (host, path, cookie) each client asks in turn over ``communes``:
    home pages anonymous, the agent's counter in each commune, and ``CLIENTS`` citizens
    each linked to a family in ``LINKED`` of them."""
    from django.conf import settings

    from opsn.citizens.models import LinkMethod, PayerLink

    agent = _user(f"bench|{AGENT}", AGENT)
    families = {c.pk: _regie_in(c) for c in communes}
    homes = [(c.primary_domain, "/", "") for c in communes]
    counters = [(c.primary_domain, f"/espace/regies/{REGIE}/guichet/?q=Famille+7",
                 _session(agent, c.primary_domain)) for c in communes]
    portal = settings.OPSN_BASE_DOMAIN
    citizens = []
    for i in range(CLIENTS):
        subject = f"bench|citizen-{label}-{i}"
        user = _user(subject, f"citoyen{i}-{label}@bench.example")
        for k in range(LINKED):
            commune = communes[(i * LINKED + k) % len(communes)]
            payer_id = families[commune.pk][(i + k) % FAMILIES]
            PayerLink.objects.get_or_create(
                subject=subject, commune=commune, payer_id=payer_id,
                defaults={"payer_name": "Famille", "method": LinkMethod.CODE})
        citizens.append((portal, "/mon-espace/", _session(user, portal)))
    return {"home": homes, "counter": counters, "payments": citizens}


async def _load(port: int, targets: list[tuple[str, str, str]], seconds: float,
                think: float) -> tuple[list[float], list[int]]:
    """``CLIENTS`` keep-alive clients on loopback, each asking the targets in turn (each
    starting at its own place), pausing ``think`` seconds (±50 %) between two pages."""
    latencies: list[float] = []
    errors: list[int] = []
    stop = time.perf_counter() + seconds
    requests = [(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                 + (f"Cookie: {cookie}\r\n" if cookie else "") + "\r\n").encode()
                for host, path, cookie in targets]

    async def client(start: int) -> None:
        rng = random.Random(start)
        if think:
            await asyncio.sleep(rng.uniform(0, think))  # people do not all click at once
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = start
        while time.perf_counter() < stop:  # bounded in time, on loopback only
            began = time.perf_counter()
            writer.write(requests[n % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            headers = head.lower()
            length = int(headers.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            if status != 200:
                errors.append(status)
            if b"connection: close" in headers:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            n += 1
            if think:
                await asyncio.sleep(rng.uniform(think / 2, think * 1.5))
        writer.close()

    await asyncio.gather(*(client(i * 7) for i in range(CLIENTS)))
    return latencies, errors


def load(port: int, targets, seconds: float, think: float = 0.0):
    """(requests per second, p95 in seconds, errors) of one load."""
    from bench.run import percentile

    began = time.perf_counter()
    latencies, errors = asyncio.run(_load(port, targets, seconds, think))
    elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, percentile(latencies, 95), errors
