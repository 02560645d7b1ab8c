"""Where a notification may be sent: public addresses only, unless an admin allowed private ones.

A target's host is resolved when a message is sent, every address it resolves to is
checked, and the connection goes to the address that was checked (app/notify/sender.py),
so a name that resolves to a public address at registration and to 127.0.0.1 later
(DNS rebinding) is still refused.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


class AddressRefused(ValueError):
    """A URL that may not be sent to; the message names the host, never the URL's path."""


@dataclass(frozen=True)
class Destination:
    """A URL's parts and the address checked for it."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL: what may be shown of it (its path may be a secret)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


def check_url(url: str) -> None:
    """Refuse what is not an http(s) URL with a host (without resolving it)."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as error:
        raise AddressRefused(f"not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused("an http or https URL with a host is needed")
    if parts.username or parts.password:
        raise AddressRefused("the URL must not carry a user or password")


def _private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not address.is_global or address.is_multicast


def resolve_destination(url: str, *, allow_private: bool) -> Destination:
    """The URL's destination, its host resolved and checked; AddressRefused if not allowed."""
    check_url(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise AddressRefused(f"{host}: cannot be resolved ({error.strerror})") from None
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private:
        for text in addresses:
            if _private(ipaddress.ip_address(text.split("%", 1)[0])):
                raise AddressRefused(
                    f"{host} resolves to {text}, a loopback, private or reserved address: "
                    "refused unless the target allows private addresses"
                )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Destination(parts.scheme, host, port, path, addresses[0])
