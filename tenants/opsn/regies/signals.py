"""What the régies' services announce to whoever listens (the jobs that follow an action):
the services never import the jobs, the jobs' module connects to these."""

from django.dispatch import Signal

# Sent by ``invoicing.invoices_issue`` with ``invoices`` (the invoices just issued, their
# payers loaded), inside its transaction.
invoices_issued = Signal()

# Sent by ``erasure.payer_erase`` and the retention job with ``payer``, inside their
# transaction, before a payer's personal data are erased or pseudonymised. A receiver
# returns why the data must stay (in French, for the agent), or None: the apps that keep
# something on a payer the régies do not know of (a direct debit mandate) answer here,
# since the régies may not import them.
payer_erasure_asked = Signal()

# Sent by ``selectors.payments_held`` with ``invoice_ids`` (a list) before a payment is
# taken (counter, API, import, online, a credit applied). A receiver returns a dict
# invoice id → why another payment must wait, in French (« prélèvement SEPA en cours, le
# 15/12/2026 »), or None: the direct debit answers for the invoices in a debit the bank
# has not settled yet, since the régies may not import it.
payments_held = Signal()
