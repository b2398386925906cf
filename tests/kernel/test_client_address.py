"""The client's address: X-Forwarded-For is believed only as far as the trusted proxies
(OPSN_TRUSTED_PROXIES), read from the right; REMOTE_ADDR otherwise."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from opsn.kernel.addresses import address_key, client_ip, trusted_networks

INGRESS = ["10.42.0.0/16", "192.0.2.10"]


def request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(("trusted", "remote", "forwarded", "client"), [
    ([], "198.51.100.7", "203.0.113.1", "198.51.100.7"),  # no trusted proxy: never read
    (INGRESS, "198.51.100.7", "203.0.113.1", "198.51.100.7"),  # not from a trusted proxy
    (INGRESS, "10.42.3.7", "203.0.113.1", "203.0.113.1"),
    (INGRESS, "10.42.3.7", None, "10.42.3.7"),
    # What the client wrote is to the left of what the proxies appended: not believed.
    (INGRESS, "10.42.3.7", "1.2.3.4, 203.0.113.1", "203.0.113.1"),
    # Through two trusted proxies: the right-most address that is not one of them.
    (INGRESS, "10.42.3.7", "1.2.3.4, 203.0.113.1, 192.0.2.10", "203.0.113.1"),
    (INGRESS, "10.42.3.7", "203.0.113.1:51234", "203.0.113.1"),
    (INGRESS, "10.42.3.7", "[2001:db8::5]:443", "2001:db8::5"),
    (INGRESS, "10.42.3.7", "garbage", "10.42.3.7"),  # nothing to vouch for beyond the proxy
    (INGRESS, "10.42.3.7", "203.0.113.1, garbage", "10.42.3.7"),
    (INGRESS, "::ffff:10.42.3.7", "203.0.113.1", "203.0.113.1"),
    ([], "", "203.0.113.1", ""),
])
def test_the_client_address(settings, trusted, remote, forwarded, client):
    settings.OPSN_TRUSTED_PROXIES = trusted
    assert client_ip(request(remote, forwarded)) == client


def test_an_ipv6_client_is_counted_by_its_64():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_key("203.0.113.1") == "203.0.113.1"
    assert address_key("") == ""


def test_a_wrong_trusted_proxy_stops_the_start_naming_the_variable():
    assert [str(n) for n in trusted_networks(["10.42.0.0/16", " 192.0.2.10 ", ""])] == [
        "10.42.0.0/16", "192.0.2.10/32"]
    with pytest.raises(ImproperlyConfigured, match="OPSN_TRUSTED_PROXIES"):
        trusted_networks(["ingress-nginx"])
