"""Which URLs a card may turn into a clickable button (anti-phishing, DESIGN.md §7)."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from bot.cards.text import BUTTON_URL

# Plain http is accepted only where the sandbox runs; everything real is https.
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})
# Characters that browsers or Slack's `<url|label>` syntax treat specially.
_UNSAFE = frozenset('"<>\\^`{|}')


def opentrain_host_of(base_url: str) -> str:
    """The host (with port, as configured) approval links must be on: `OT_API_BASE_URL`'s."""
    return urlsplit(base_url.strip()).netloc.lower()


def approval_link_allowed(url: str, opentrain_host: str) -> bool:
    """True when `url` is https (http on localhost) on exactly `opentrain_host`.

    The port is compared as written, and a userinfo part (`https://host@evil/…`)
    is refused outright because browsers would go to the host after the `@`.
    """
    parts = _parse(url)
    return parts is not None and parts.netloc.lower() == opentrain_host.strip().lower()


def opentrain_link(opentrain_host: str, path: str | None) -> str | None:
    """A page of OpenTrain's own (a freelancer's `/profile/…`) as a URL on `opentrain_host`,
    or None when `path` is not a plain absolute path there (same rule as approval links)."""
    if not path or not path.startswith("/") or path.startswith("//"):
        return None
    host = opentrain_host.strip().lower()
    scheme = "http" if host.rsplit(":", 1)[0] in _LOCAL_HOSTS else "https"
    url = f"{scheme}://{host}{path}"
    return url if approval_link_allowed(url, host) else None


def safe_link(url: str | None) -> str | None:
    """`url` if it is fit for a button or `<url|label>` (a Slack permalink), else None."""
    if url is None:
        return None
    return url if _parse(url) is not None else None


def _parse(url: str) -> SplitResult | None:
    if not url or len(url) > BUTTON_URL:
        return None
    if any(not 0x21 <= ord(char) <= 0x7E or char in _UNSAFE for char in url):
        return None
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        _ = parts.port  # raises ValueError for a malformed port (":x", ":99999")
    except ValueError:
        return None
    if not hostname or "@" in parts.netloc:
        return None
    scheme = parts.scheme.lower()
    if scheme == "https" or (scheme == "http" and hostname in _LOCAL_HOSTS):
        return parts
    return None
