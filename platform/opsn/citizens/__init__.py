"""The citizen's side: which payer records of which communes a person (an OpenID Connect
subject) is linked to, and their statement across communes. Links live in the public
schema; invoices, payments and receipts stay in each commune's schema and are read across
schemas at read time, behind ``citizens.statement`` only."""
