"""What the tests share that is not a fixture (fixtures live in conftest.py files).

- ``communes``: the session's two communes, the second commune database, ``in_schema``.
- ``identity``: accounts at the local provider, roles, signing in through the real flow.
- ``regies``: a régie as its founding act makes it, its agents, payers and invoices.
- ``factories``: factory_boy factories for the régies' rows, through the same services.
- ``citizens``: the books of a family with payer records in two communes.
- ``billing``: clean-up after a ``committed`` billing test.
- ``browser``: Chromium driven by Playwright, axe-core's verdict.
- ``servers``: the production server (``opsn serve``) on a free port, plain HTTP requests.
- ``helm_render``: the subset of Helm's templates the chart uses.
- ``branding``: a commune's profile as its administrator's form sends it.
"""
