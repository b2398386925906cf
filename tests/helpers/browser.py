"""Chromium driven by Playwright for the browser tests (tests/interfaces/test_browser_*.py;
their server is the ``server`` fixture of tests/interfaces/conftest.py)."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from django.core.servers.basehttp import WSGIRequestHandler

CHROMIUM = "/usr/bin/chromium"


def launch(playwright):
    """Debian's Chromium, headless; every *.localhost name (the communes' sites, the
    provider, the portal) resolved to the test server."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=["--no-sandbox", "--host-resolver-rules=MAP *.localhost 127.0.0.1"])


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # the test's output is enough
        pass


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]
