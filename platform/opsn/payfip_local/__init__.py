"""A local test provider that follows PayFiP's round trip, for the demo and the tests:
create an operation (→ its id), the payer's page where they pay, refuse or abandon, a
server-to-server notification that carries only the operation id (sent as a background
job), and the result fetched by id (P5 until the payer has chosen). Served on the
operator's portal under ``/payfip-local/``; never in production (``OPSN_PAYFIP=payfip``)."""
