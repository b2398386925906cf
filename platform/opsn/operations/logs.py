"""Structured JSON logs, each line carrying the request id and the commune."""

import logging

from pythonjsonlogger.json import JsonFormatter

from opsn.kernel import context


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.request_id.get()
        record.commune = context.commune.get()
        return True


class Formatter(JsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level",
                                            "name": "logger"})
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s "
                         "%(commune)s", *args, **kwargs)
