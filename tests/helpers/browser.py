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


def violations(page) -> list[str]:
    """Every violation axe-core finds, whatever its impact (minor ones too)."""
    results = Axe().run(page)
    return [f"{v['id']} ({v.get('impact')}): {v['help']} ({len(v['nodes'])})"
            for v in results.response["violations"]]


def overflows(page) -> bool:
    """Whether the page is wider than the screen (something off-screen to the right)."""
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def within_screen(page, locator) -> bool:
    """Whether ``locator``'s box lies wholly inside the screen's width."""
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


PASSWORD = "correct horse battery staple"  # tests.helpers.identity's


def phone_page(browser, **options):
    """A page of a French phone at 360 px (touch), as the citizens' tests use."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 360, "height": 740},
                                  is_mobile=True, has_touch=True, **options)
    return context.new_page()


def citizen_signs_in_and_links(page, site: str, email: str, code: str) -> None:
    """From the commune's « Rattachements » page: sign in at the provider as ``email``,
    then link the family by its ``code``."""
    page.goto(f"{site}/mon-espace/rattachements/")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_label("Code de rattachement").fill(code)
    page.get_by_role("button", name="Rattacher").click()


def agent_signs_in(page, url: str, account: str, authenticator) -> None:
    """Open ``url`` (a site's /compte/connexion/?next=…) and sign in at the provider as
    ``account`` with its password and the authenticator's current code."""
    page.goto(url)
    page.get_by_label("Adresse électronique").fill(account)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_label("Code à 6 chiffres").fill(authenticator.now())
    page.get_by_role("button", name="Valider").click()
