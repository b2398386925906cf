"""Readers of the files a régie imports: they turn bytes into plain rows, checked cell by
cell, and touch no database. ``regies.services.imports`` matches and posts what they read.

- ``invoices_csv``: the invoices of the commune's business software (CSV);
- ``card_csv``: a card terminal's (TPE) transactions (CSV);
- ``camt053``: a bank statement (ISO 20022 camt.053, any version), read as a stream.
"""
