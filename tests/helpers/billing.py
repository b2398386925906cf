"""Clean-up after a ``committed`` billing test."""

from __future__ import annotations

from django.db import connection


def wipe_billing() -> None:
    """After a ``committed`` billing test: remove its invoices. The database refuses to
    delete invoices, so the guard is lifted for this test data only."""
    with connection.cursor() as cursor:
        for statement in ("ALTER TABLE billing_invoice DISABLE TRIGGER USER",
                          "ALTER TABLE billing_invoiceline DISABLE TRIGGER USER",
                          "DELETE FROM billing_invoiceline", "DELETE FROM billing_invoice",
                          "DELETE FROM billing_billingrun", "DELETE FROM billing_invoicesequence",
                          "DELETE FROM billing_populationbracket",
                          "DELETE FROM billing_pricingrule",
                          "ALTER TABLE billing_invoice ENABLE TRIGGER USER",
                          "ALTER TABLE billing_invoiceline ENABLE TRIGGER USER"):
            cursor.execute(statement)
