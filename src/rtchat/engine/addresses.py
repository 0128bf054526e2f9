"""What per-address limits (the engine's connection cap, the chat's join and room limits)
count a client by."""

from __future__ import annotations

import functools
import ipaddress


# Asked on every connection and every join, mostly for the same few addresses; parsing one
# with `ipaddress` costs more than the rest of accepting a WebSocket.
@functools.lru_cache(maxsize=4096)
def address_key(host: str | None) -> str | None:
    """The IPv4 address, or the IPv6 /64 (one host's share, usually: counting single IPv6
    addresses would let one host take as many as it likes); an IPv4 address written as
    IPv6 (`::ffff:1.2.3.4`) is that IPv4 address. None for a host that is not an IP."""
    if host is None:
        return None
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
