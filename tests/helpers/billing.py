"""Billing tests: the subscriptions' start, and the clean-up after a ``committed`` test."""

from __future__ import annotations

import datetime

from django.db import connection

from opsn.communes.models import CommuneModule


def wipe_billing() -> None:
    """After a ``committed`` billing test: remove its invoices and the billing trail. The
    database refuses to delete either, so the guard is lifted for this test data only."""
    with connection.cursor() as cursor:
        for statement in ("ALTER TABLE billing_invoice DISABLE TRIGGER USER",
                          "ALTER TABLE billing_invoiceline DISABLE TRIGGER USER",
                          "ALTER TABLE billing_billingevent DISABLE TRIGGER USER",
                          "DELETE FROM billing_billingevent",
                          "DELETE FROM billing_invoiceline", "DELETE FROM billing_invoice",
                          "DELETE FROM billing_billingjob", "DELETE FROM billing_billingrun",
                          "DELETE FROM billing_invoicesequence",
                          "DELETE FROM billing_populationbracket",
                          "DELETE FROM billing_pricingrule",
                          "ALTER TABLE billing_invoice ENABLE TRIGGER USER",
                          "ALTER TABLE billing_invoiceline ENABLE TRIGGER USER",
                          "ALTER TABLE billing_billingevent ENABLE TRIGGER USER"):
            cursor.execute(statement)


def subscribe_from(year: int, codes=None) -> None:
    """Every subscription (of the communes of ``codes``, or of all) starts on 1 January of
    ``year``."""
    qs = CommuneModule.objects.all()
    if codes is not None:
        qs = qs.filter(commune__insee_code__in=codes)
    qs.update(starts_on=datetime.date(year, 1, 1))
