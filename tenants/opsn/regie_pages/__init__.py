"""The agents' pages for the régies: the counter, the journal, the cash desk, payers and
invoices, imports, reports, the régies' administration. Thin views over
``regies.services`` and ``regies.selectors``."""
