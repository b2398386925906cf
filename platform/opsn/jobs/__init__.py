"""Background jobs on dramatiq.

The broker comes from ``OPSN_BROKER_URL``: ``amqp://…`` (RabbitMQ, production),
``redis://…``, or nothing: an in-process broker whose worker threads start with the first
job (the embedded default: no service to install). Workers of a real broker run with
``opsn worker``.

Every job that works for a commune carries its schema in the message
(``send(commune=…)``) and runs inside it; database connections are closed after each
message so that a worker never carries a schema or a transaction from one job to the next.
"""
