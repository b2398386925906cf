"""Régies: a commune's cash desks, their payments and numbered receipts. In the commune's
own schema. The ledger (payments and their reversals) is append-only and hash-chained."""
