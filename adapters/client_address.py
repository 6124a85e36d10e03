"""Who the client is: the connection's address, or, behind a configured reverse proxy, the
address that proxy says it forwarded for.

Why only from configured proxies: X-Forwarded-For is a header anyone can send. Honoured from
everyone, a client would pick a fresh address per request and so a fresh rate-limit bucket.
Honoured from the trust's proxy (POLICYBOT_TRUSTED_PROXIES), each member of staff gets their
own, instead of all of them sharing the proxy's. The chain is read from the right: each
trusted hop vouches for the one before it, and the first address not trusted is the client.
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED_FOR = "X-Forwarded-For"


def parse_ip(text: str) -> IPAddress | None:
    """An address as proxies write it: bare, "[v6]" or with a port ("1.2.3.4:5678", "[v6]:443",
    as e.g. Azure Application Gateway writes them); IPv4-mapped IPv6 as IPv4. None if it is not one."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port (a bare IPv6 address has several colons)
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=8)
def networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    """The configured proxies (addresses or CIDR ranges, already checked by bot.config)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def _trusted(address: IPAddress, proxies: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: tuple[str, ...]) -> str:
    """The client's address for `peer` (the connection's remote address) and the request's
    X-Forwarded-For headers (all of them, in order), trusting only the `trusted` proxies."""
    address = parse_ip(peer or "")
    if address is None:
        return peer or "unknown"  # a Unix socket, or no peer at all
    proxies = networks(tuple(trusted))
    if not proxies:
        return str(address)
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    while hops and _trusted(address, proxies):
        previous = parse_ip(hops.pop())
        if previous is None:  # garbage where a proxy would have written an address: stop at the proxy
            break
        address = previous
    return str(address)
