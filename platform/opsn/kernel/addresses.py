"""The client's address: the one place that reads ``REMOTE_ADDR`` and ``X-Forwarded-For``.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only as far
as the proxies named in ``OPSN_TRUSTED_PROXIES`` (addresses or networks, e.g. the ingress
controller's pods): when ``REMOTE_ADDR`` is one of them, the header is read from the right
(each proxy appends the address it received the request from) and the first address that is
not a trusted proxy is the client's. Anything to its left was written by the client and is
ignored. With no trusted proxy (the default) the header is never read.

Limits per address (``opsn.operations.throttle``) key on ``address_key``: an IPv6 client
holds its whole /64, so the /64 is what counts.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def trusted_networks(entries: list[str] | tuple[str, ...]) -> tuple[Network, ...]:
    """``OPSN_TRUSTED_PROXIES`` read: each entry an address or a network (CIDR)."""
    networks = []
    for entry in entries:
        text = str(entry).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"OPSN_TRUSTED_PROXIES : « {text} » n'est ni une adresse IP ni un réseau "
                "(CIDR, par exemple 10.244.0.0/16).") from exc
    return tuple(networks)


@lru_cache(maxsize=8)
def _trusted(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return trusted_networks(entries)


def _address(text: str) -> Address | None:
    """An address as proxies write it (``203.0.113.7``, ``203.0.113.7:4711``,
    ``[2001:db8::1]:4711``, ``2001:db8::1``); None when it is not one."""
    text = text.strip().strip('"')
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_ip(request: HttpRequest) -> str:
    """The client's address ("" when the server gave none)."""
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        return ""
    trusted = _trusted(tuple(settings.OPSN_TRUSTED_PROXIES))
    if not trusted or not any(remote in net for net in trusted):
        return str(remote)
    client = remote
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # not written by a proxy of ours: stop at the last hop we can vouch for
        client = address
        if not any(address in net for net in trusted):
            break
    return str(client)


def address_key(ip: str) -> str:
    """What a limit per address counts: the address, or its /64 for IPv6."""
    address = _address(ip)
    if address is None:
        return ""
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
