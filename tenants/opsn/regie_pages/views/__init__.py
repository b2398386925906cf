"""Views split by concept: home (my régies), counter (payments and receipts), journal,
cashdesk (closing, deposits), payers (payers and invoices), admin (founding act,
appointments, merge), audit (the commune's action log)."""
