"""Absolute URLs of the platform's own sites, for what leaves a page: links in e-mails,
a receipt's verification URL and QR code, the return and notification URLs given to
PayFiP.

Built from the deployment's public base (``OPSN_PUBLIC_SCHEME``, ``OPSN_PUBLIC_PORT``),
never from a request's Host header: its port (or scheme) is whatever the client sent, and
must not flow into an address handed to someone else. The host is one of ours (a commune's
domain, the portal, the console), named by the caller.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port

DEFAULT_PORTS = {"http": 80, "https": 443}


def public_base(host: str) -> str:
    """``scheme://host[:port]`` of one of our hosts, as the public reaches it."""
    scheme = settings.OPSN_PUBLIC_SCHEME
    port = settings.OPSN_PUBLIC_PORT
    domain = split_domain_port(host)[0] or host.lower()
    shown = f":{port}" if port and port != DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{domain}{shown}"


def public_url(host: str, path: str = "/", query: dict | None = None) -> str:
    """The absolute URL of ``path`` on ``host`` (one of ours), with ``query`` encoded."""
    return public_base(host) + path + (f"?{urlencode(query)}" if query else "")


def request_domain(request: HttpRequest) -> str:
    """The domain the request was addressed to, without the port its Host header named."""
    return split_domain_port(request.get_host())[0]
