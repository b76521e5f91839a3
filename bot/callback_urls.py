"""Where an agent may ask to be called back (`callbackUrl`): the URL's form and its addresses.

The bot POSTs outcomes to a URL an agent chose, from inside the bot's network, so
a URL is checked twice: when the request arrives and again before each delivery
(DNS can change in between). Its host is resolved and refused when ANY address is
not a public unicast one — loopback, private, link-local (cloud metadata at
169.254.169.254), multicast, reserved, unspecified, shared — including those
forms wrapped in IPv6 (IPv4-mapped, 6to4, NAT64). `CALLBACK_ALLOW_PRIVATE=true`
lifts the address rule and allows plain http (development and tests).

A delivery connects to the address that was checked (`Destination.pinned_url`),
never resolving the name a second time, so a name that changes its answer between
the check and the connection cannot lead the bot elsewhere.

Problems are described, never quoted: a URL's query may hold the receiver's secret.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import SplitResult, urlsplit

MAX_URL_CHARS = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
RESOLVE_SECONDS = 5.0  # an agent's request waits for this at most; a delivery retries later

Reason = Literal["callback_url_invalid", "callback_url_not_allowed", "callback_url_unresolvable"]
INVALID: Reason = "callback_url_invalid"
NOT_ALLOWED: Reason = "callback_url_not_allowed"
UNRESOLVABLE: Reason = "callback_url_unresolvable"

# host, port → the addresses it resolves to (text, as getaddrinfo gives them)
Resolver = Callable[[str, int], Awaitable[list[str]]]


class CallbackRefused(Exception):
    """A `callbackUrl` the bot will not call; `problem` is for people, `reason` for code."""

    def __init__(self, reason: Reason, problem: str) -> None:
        super().__init__(problem)
        self.reason = reason
        self.problem = problem


@dataclass(frozen=True)
class Destination:
    """A checked callback URL and the address a delivery connects to."""

    url: str
    host: str  # the URL's host name (lower case, no brackets): TLS checks the certificate for it
    authority: str  # the Host header: host[:port] as written
    address: str  # the first address the host resolved to, all of them checked

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address (Host keeps the name)."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if ":" in self.address else self.address
        port = f":{parts.port}" if parts.port is not None else ""
        return parts._replace(netloc=f"{literal}{port}").geturl()


def check_form(url: str, *, allow_private: bool) -> SplitResult:
    """The parts of `url` if it is an absolute https URL the bot may call (http too when
    `allow_private`); CallbackRefused otherwise. Nothing is resolved here."""
    if len(url) > MAX_URL_CHARS:
        raise CallbackRefused(INVALID, f"longer than {MAX_URL_CHARS} characters")
    if any(not 0x21 <= ord(char) <= 0x7E for char in url):
        raise CallbackRefused(
            INVALID, "spaces, control or non-ASCII characters (write an IDN host as xn--…)"
        )
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        raise CallbackRefused(INVALID, "not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname or parts.netloc.endswith(":"):
        raise CallbackRefused(INVALID, "not an absolute https:// URL")
    if "@" in parts.netloc:
        raise CallbackRefused(INVALID, "a URL with a user name or password is refused")
    if "#" in url:
        raise CallbackRefused(INVALID, "a fragment (#…) is never sent; leave it out")
    if scheme == "http" and not allow_private:
        raise CallbackRefused(NOT_ALLOWED, "must use https://")
    return parts


def address_refused(address: IPAddress) -> bool:
    """Whether the bot must not call `address`: anything but public unicast, unwrapped first."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refused(embedded)
    return (
        not address.is_global  # private, shared (100.64/10), documentation, benchmarking…
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def vet(url: str, *, allow_private: bool, resolve: Resolver = system_resolve) -> Destination:
    """Check `url`'s form, resolve its host and check every address; where to connect."""
    parts = check_form(url, allow_private=allow_private)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            found = await resolve(host, port)
        addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in found]
    except (OSError, UnicodeError, ValueError, TimeoutError):
        raise CallbackRefused(UNRESOLVABLE, "its host does not resolve") from None
    if not addresses:
        raise CallbackRefused(UNRESOLVABLE, "its host does not resolve")
    if not allow_private and any(address_refused(address) for address in addresses):
        raise CallbackRefused(
            NOT_ALLOWED,
            "its host is (or resolves to) a loopback, private, link-local or otherwise "
            "non-public address",
        )
    return Destination(url=url, host=host, authority=parts.netloc, address=str(addresses[0]))
