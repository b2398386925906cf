"""Every change to a régie's data goes through these modules: founding (the founding act,
products, appointments), invoicing (payers, invoices), payments (posting, reversal,
credit), cashdesk (closing, deposit), merge. Each function is atomic and audited."""
