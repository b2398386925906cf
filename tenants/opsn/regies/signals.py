"""What the régies' services announce to whoever listens (the jobs that follow an action):
the services never import the jobs, the jobs' module connects to these."""

from django.dispatch import Signal

# Sent by ``invoicing.invoices_issue`` with ``invoices`` (the invoices just issued, their
# payers loaded), inside its transaction.
invoices_issued = Signal()
