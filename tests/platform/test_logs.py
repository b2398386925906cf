"""The command line logs for people: on a terminal, French lines on standard error (no
JSON, accents as they are); JSON when asked, or when standard error is not a terminal (a
container's server, a pipe), for the log collector."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys

import pytest

from opsn.operations.logs import log_format

LOGS_ONE_LINE = ("import django, logging; django.setup(); "
                 "logging.getLogger('opsn.communes').warning('Vénissieux : schéma prêt')")


def run(environment: dict, *, terminal: bool) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "opsn.settings", **environment}
    if "LOG_FORMAT" not in environment:
        env.pop("LOG_FORMAT", None)
    if not terminal:
        done = subprocess.run([sys.executable, "-c", LOGS_ONE_LINE], env=env,
                              capture_output=True, timeout=60, check=True)
        return done.stderr.decode()
    controller, terminal_end = pty.openpty()
    try:
        subprocess.run([sys.executable, "-c", LOGS_ONE_LINE], env=env, stderr=terminal_end,
                       stdout=subprocess.DEVNULL, timeout=60, check=True)
        os.close(terminal_end)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(controller)


def test_on_a_terminal_a_command_logs_a_french_line_with_its_accents():
    text = run({}, terminal=True)
    assert "attention opsn.communes : Vénissieux : schéma prêt" in text
    assert "{" not in text and "\\u" not in text


def test_not_on_a_terminal_the_logs_are_json_with_their_accents():
    line = run({}, terminal=False).strip().splitlines()[-1]
    assert "Vénissieux" in line  # not V\u00e9nissieux
    record = json.loads(line)
    assert record["level"] == "WARNING" and record["message"] == "Vénissieux : schéma prêt"


def test_json_when_asked_even_on_a_terminal():
    line = run({"LOG_FORMAT": "json"}, terminal=True).strip().splitlines()[-1]
    assert json.loads(line)["logger"] == "opsn.communes"


def test_the_format_follows_the_stream_and_refuses_unknown_values():


    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert log_format("auto", Terminal()) == "text"
    assert log_format("auto", io.StringIO()) == "json"
    assert log_format("JSON", Terminal()) == "json"
    assert log_format("text", io.StringIO()) == "text"
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        log_format("yaml")
