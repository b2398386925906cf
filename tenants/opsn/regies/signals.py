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

# Sent by ``erasure.payer_erase`` and the retention job with ``payer`` and ``pseudonymised``
# (False on request, True after the retention period), inside their transaction, once the
# payer's own record is erased and nothing held it (``payer_erasure_asked``). A receiver
# erases what its app keeps on that payer (the e-mail of its online payments, the debtor's
# details on its ended mandates) and returns the labels of what it erased, in French, for
# the audit log (never the values), or an empty list.
payer_erased = Signal()
# Sent by ``selectors.payments_held`` with ``invoice_ids`` (a list) before a payment is
# taken (counter, API, import, online, a credit applied). A receiver returns a dict
# invoice id → why another payment must wait, in French (« prélèvement SEPA en cours, le
# 15/12/2026 »), or None: the direct debit answers for the invoices in a debit the bank
# has not settled yet, since the régies may not import it.
payments_held = Signal()

# Sent by ``invoice_documents.Renderer`` with ``invoice`` (its régie and payer loaded) when
# the document of an invoice still owing is typeset, for a régie that accepts direct debit.
# A receiver returns the sentence the document prints to announce the debit (the
# pre-notification of a family without an e-mail address: date, account, mandate,
# creditor), in French, or None: the direct debit answers, since the régies may not
# import it.
invoice_debit_notice = Signal()
