"""Logs: JSON for machines, French lines for people, each carrying the request id and the
commune.

``LOG_FORMAT`` chooses: ``json`` (one object per line, accents as they are), ``text`` (a
readable French line), or ``auto`` (the default): text when standard error is a terminal
— someone running ``opsn …`` — and JSON otherwise (a container, a service, a pipe), where
a log collector reads it.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from opsn.kernel import context

FORMATS = ("auto", "json", "text")

# Level names as a French reader expects them.
LEVELS = {"DEBUG": "débogage", "INFO": "info", "WARNING": "attention", "ERROR": "erreur",
          "CRITICAL": "critique"}


def log_format(requested: str, stream: TextIO | None = None) -> str:
    """``json`` or ``text`` for ``LOG_FORMAT``'s value (``auto``: text on a terminal)."""
    requested = (requested or "auto").strip().lower()
    if requested not in FORMATS:
        raise ValueError(f"LOG_FORMAT: {requested!r} n'est pas l'un de {', '.join(FORMATS)}")
    if requested != "auto":
        return requested
    stream = sys.stderr if stream is None else stream
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):  # closed or replaced stream: machines read it
        return "json"


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.request_id.get()
        record.commune = context.commune.get()
        return True


class Formatter(JsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level",
                                            "name": "logger"})
        kwargs.setdefault("json_ensure_ascii", False)  # « Vénissieux », not V\u00e9nissieux
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s "
                         "%(commune)s", *args, **kwargs)


class TextFormatter(logging.Formatter):
    """``05:14:07 attention opsn.jobs : message (commune c_69259, requête 3f2a…)``."""

    def __init__(self, *args, **kwargs):
        super().__init__("%(asctime)s %(levelname_fr)-9s %(name)s : %(message)s%(where)s",
                         datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        record.levelname_fr = LEVELS.get(record.levelname, record.levelname.lower())
        where = []
        commune = getattr(record, "commune", "-")
        if commune and commune != "-":
            where.append(f"commune {commune}")
        request_id = getattr(record, "request_id", "-")
        if request_id and request_id != "-":
            where.append(f"requête {request_id}")
        record.where = f" ({', '.join(where)})" if where else ""
        return super().format(record)
