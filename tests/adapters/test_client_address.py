"""The client's address behind reverse proxies: X-Forwarded-For only from the configured ones."""
from __future__ import annotations

import pytest

from adapters.client_address import client_address, parse_ip
from bot.config import ConfigError, from_env

PROXIES = ("10.0.0.0/8", "192.0.2.7/32")


@pytest.mark.parametrize("peer,xff,expected", [
    ("10.1.1.1", ["203.0.113.9"], "203.0.113.9"),                      # one trusted proxy
    ("10.1.1.1", ["203.0.113.9, 10.2.2.2"], "203.0.113.9"),            # two trusted hops
    ("10.1.1.1", ["198.51.100.1, 203.0.113.9"], "203.0.113.9"),        # a forged entry left of the real one
    ("10.1.1.1", ["198.51.100.1", "203.0.113.9"], "203.0.113.9"),      # several headers read as one list
    ("198.51.100.50", ["203.0.113.9"], "198.51.100.50"),               # not from a proxy: header ignored
    ("10.1.1.1", [], "10.1.1.1"),                                       # a proxy with no header: itself
    ("10.1.1.1", ["not-an-ip"], "10.1.1.1"),                            # garbage: stop at the proxy
    ("10.1.1.1", ["10.3.3.3"], "10.3.3.3"),                             # all trusted: the leftmost
    ("10.1.1.1", ["203.0.113.9:51234"], "203.0.113.9"),                 # with a port (Azure App Gateway)
    ("10.1.1.1", ["[2001:db8::5]:443"], "2001:db8::5"),
    ("10.1.1.1", ["2001:db8::5"], "2001:db8::5"),
    ("::ffff:10.1.1.1", ["203.0.113.9"], "203.0.113.9"),                # IPv4-mapped peer
    ("192.0.2.7", ["203.0.113.9"], "203.0.113.9"),
    (None, ["203.0.113.9"], "unknown"),
])
def test_forwarded_for_is_read_from_the_right_through_trusted_hops(peer, xff, expected):
    assert client_address(peer, xff, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_never_read():
    assert client_address("10.1.1.1", ["203.0.113.9"], ()) == "10.1.1.1"


def test_parse_ip_forms():
    assert str(parse_ip(" 203.0.113.9 ")) == "203.0.113.9"
    assert parse_ip("unknown") is None and parse_ip("") is None and parse_ip("_hidden") is None


def test_trusted_proxies_setting():
    s = from_env({"POLICYBOT_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,2001:db8::/32,192.168.1.5/24"})
    assert s.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32", "192.168.1.0/24")
    assert from_env({}).trusted_proxies == ()
    with pytest.raises(ConfigError, match="POLICYBOT_TRUSTED_PROXIES: 'proxy.local' is not an IP address"):
        from_env({"POLICYBOT_TRUSTED_PROXIES": "127.0.0.1,proxy.local"})
