"""The commune's HTTP API for its business software: invoices and payments pushed into
its régies, with per-commune service credentials. Thin endpoints over
``regies.services``."""
