"""Which `callbackUrl`s the bot calls: their form, and every address their host resolves to."""

from __future__ import annotations

import ipaddress

import pytest

from bot.callback_urls import (
    INVALID,
    NOT_ALLOWED,
    UNRESOLVABLE,
    CallbackRefused,
    address_refused,
    check_form,
    system_resolve,
    vet,
)

PUBLIC = "93.184.215.14"


class Dns:
    """DNS standing in for the system's: a name resolves to `addresses`, a literal to itself."""

    def __init__(self, *addresses: str, fails: bool = False) -> None:
        self.addresses = list(addresses)
        self.fails = fails
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if self.fails:
            raise OSError("Name or service not known")
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            return self.addresses


async def refusal(url: str, *addresses: str, allow_private: bool = False) -> str:
    with pytest.raises(CallbackRefused) as raised:
        await vet(url, allow_private=allow_private, resolve=Dns(*addresses))
    return raised.value.reason


# --- the form -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "agent.example/hook",  # not absolute
        "/hook",
        "ftp://agent.example/hook",
        "https://",
        "https://user:pass@agent.example/hook",  # credentials
        "https://token@agent.example/hook",
        "https://agent.example:99999/hook",
        "https://agent.example:/hook",
        "https://agent.example/hook#part",
        "https://agent.example/a hook",
        "https://agént.example/hook",
        "https://agent.example/" + "a" * 2048,
    ],
)
async def test_malformed_urls_are_invalid(url: str) -> None:
    assert await refusal(url, PUBLIC) == INVALID
    assert await refusal(url, PUBLIC, allow_private=True) == INVALID


async def test_http_only_with_the_setting() -> None:
    assert await refusal("http://agent.example/hook", PUBLIC) == NOT_ALLOWED
    allowed = await vet("http://agent.example/hook", allow_private=True, resolve=Dns(PUBLIC))
    assert allowed.pinned_url == f"http://{PUBLIC}/hook"


def test_a_refusal_never_quotes_the_url() -> None:
    with pytest.raises(CallbackRefused) as raised:
        check_form("https://user:s3cret@agent.example/hook", allow_private=False)
    assert "s3cret" not in str(raised.value)


# --- the addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "2002:a00:1::1",  # 6to4 around 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
        "2001::1",  # Teredo
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_refused(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", [PUBLIC, "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not address_refused(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.7:8443/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fe80::1]/hook",
    ],
)
async def test_a_private_literal_is_refused_unless_the_setting_allows_it(url: str) -> None:
    assert await refusal(url) == NOT_ALLOWED
    allowed = await vet(url, allow_private=True, resolve=Dns())
    assert allowed.url == url


async def test_a_name_is_refused_when_any_of_its_addresses_is_not_public() -> None:
    assert await refusal("https://agent.example/hook", PUBLIC, "10.0.0.5") == NOT_ALLOWED
    assert await refusal("https://agent.example/hook", "::1") == NOT_ALLOWED


async def test_localhost_resolves_to_loopback_and_is_refused() -> None:
    with pytest.raises(CallbackRefused) as raised:
        await vet("https://localhost/hook", allow_private=False, resolve=system_resolve)
    assert raised.value.reason == NOT_ALLOWED


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(CallbackRefused) as raised:
        await vet("https://agent.example/hook", allow_private=True, resolve=Dns(fails=True))
    assert raised.value.reason == UNRESOLVABLE
    assert await refusal("https://agent.example/hook") == UNRESOLVABLE  # no address at all


async def test_a_public_name_is_pinned_to_the_address_that_was_checked() -> None:
    resolve = Dns(PUBLIC, "2606:4700::1111")
    checked = await vet(
        "https://Agent.Example:8443/cosign/hook?key=abc", allow_private=False, resolve=resolve
    )
    assert resolve.asked == [("agent.example", 8443)]
    assert checked.host == "agent.example"
    assert checked.authority == "Agent.Example:8443"  # the Host header, as written
    assert checked.pinned_url == f"https://{PUBLIC}:8443/cosign/hook?key=abc"

    ipv6 = await vet("https://agent.example/h", allow_private=False, resolve=Dns("2606::1"))
    assert ipv6.pinned_url == "https://[2606::1]/h"
