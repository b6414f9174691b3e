"""--exclude-private as a real boundary: the address is checked where the socket is opened.

A filter on the URL's text is not a guard: `http://2130706433/`, `0x7f.1`,
`127.1` and names that resolve to 10.x all reach loopback or the LAN, and a
redirect can point anywhere. So each connection resolves its host once, refuses
it if any address is private, loopback, link-local (cloud metadata at
169.254.169.254 included), multicast, reserved or unspecified, and connects to
exactly the address it checked: no second lookup for a rebinding DNS server to
answer differently. Every redirect hop opens its own connection, so every hop
is checked. (The approach of JordanMilne/Advocate.)
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Callable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class PrivateAddressRefused(Exception):
    """The host resolved to an address --exclude-private refuses; no connection was made."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}, a private or special-purpose address")
        self.host = host
        self.address = address


def is_private(ip: Address) -> bool:
    """True for anything but a globally routable unicast address, IPv4 forms hidden in IPv6 included."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # a dual-stack socket connects to the IPv4 address itself
            return is_private(ip.ipv4_mapped)
        embedded = ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if embedded is not None and is_private(embedded):
            return True
        if ip.teredo is not None and any(is_private(v4) for v4 in ip.teredo):
            return True
    return not ip.is_global or ip.is_multicast or ip.is_unspecified or ip.is_reserved or ip.is_link_local


def system_resolver(host: str, port: int) -> list[str]:
    """Every address getaddrinfo gives, as it would be connected to (it also parses 127.1 and 0x7f.1)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


class NetGuard:
    """Resolves a host once and returns the one address it is safe to connect to."""

    def __init__(self, resolver: Resolver = system_resolver, refuse: Callable[[Address], bool] = is_private) -> None:
        self.resolver = resolver
        self.refuse = refuse

    def address_for(self, host: str, port: int) -> str:
        addresses = self.resolver(host.strip("[]"), port)
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address")
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if self.refuse(ip):
                raise PrivateAddressRefused(host, address)  # one bad record taints the name
        return addresses[0]
