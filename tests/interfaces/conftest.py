"""Fixtures of the interface tests."""

from __future__ import annotations

import threading

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.core.wsgi import get_wsgi_application

from opsn.accounts.oidc import forget_provider
from tests.helpers.browser import QuietHandler
from tests.helpers.identity import IDP_HOST


@pytest.fixture
def server(committed, settings):
    """The whole application on 127.0.0.1, on a free port, in a thread, for the browser
    tests; the browser reaches the local identity provider on the same port."""

    httpd = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    httpd.set_app(get_wsgi_application())
    settings.OPSN_OIDC_ISSUER = f"http://{IDP_HOST}:{httpd.server_address[1]}"
    # Links that leave a page (PayFiP's return URL, e-mails) carry the port served on.
    settings.OPSN_PUBLIC_PORT = httpd.server_address[1]
    forget_provider()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        forget_provider()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
