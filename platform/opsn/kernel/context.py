"""What the current request or job is about, for logs, error reports and metrics."""

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="-")
commune: ContextVar[str] = ContextVar("commune", default="-")
