"""Which hosts may receive an API key.

Meraki answers with absolute `Link` URLs and redirects that may name a shard host (`n123.meraki.com`);
following them blindly would hand the key to whoever controls the URL. Every client checks each URL
against this allow-list before sending a credential, and the Organization model validates its base URL
with the same rules.
"""

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from sync.clients.errors import ForbiddenHostError

MERAKI_API_DOMAINS = ("meraki.com", "meraki.ca", "meraki.cn", "meraki.in", "gov-meraki.com")
# visibility{.eu|.apjc}.amp.cisco.com (token) and private.intel{.eu|.apjc}.amp.cisco.com (CTIA)
THREAT_RESPONSE_DOMAINS = ("amp.cisco.com",)
WEBEX_DOMAINS = ("webexapis.com",)

# Hostnames are ASCII letters, digits, dots, hyphens (and colons for IPv6 literals). Anything else
# (backslashes, spaces, percent-escapes) is where URL parsers disagree, so it is refused outright.
_PLAIN_HOST = re.compile(r"^[a-z0-9.:_-]+$")


def _normalized(hosts: Iterable[str]) -> list[str]:
    # Empty entries (e.g. from splitting an empty setting) would otherwise match every host ending in ".".
    return [h.strip().lower() for h in hosts if h.strip()]


def _in_domains(host: str, domains: Iterable[str]) -> bool:
    """True if `host` equals a domain or is a subdomain of it (`n123.meraki.com`, not `evilmeraki.com`)."""
    host = host.lower()
    if not host or not _PLAIN_HOST.match(host):
        return False
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def is_allowed_host(host: str, *, extra_hosts: Iterable[str] = ()) -> bool:
    """True if `host` is a Meraki API domain, one of `extra_hosts`, or a subdomain of either."""
    return _in_domains(host, (*MERAKI_API_DOMAINS, *_normalized(extra_hosts)))


def check_url_allowed(
    url: str,
    *,
    extra_hosts: Iterable[str] = (),
    domains: Iterable[str] = MERAKI_API_DOMAINS,
    service: str = "Meraki API",
) -> None:
    """Raise ForbiddenHostError unless a credential may be sent to `url`.

    `domains` are the service's own (Meraki's by default; Threat Response and Webex pass theirs). They
    always need https, even when also listed in `extra_hosts`. Plain http is accepted
    only for the other extra hosts, which exist for the local simulator and tests. User credentials in
    the URL are refused: they hide the real host from a reader (`https://api.meraki.com@evil.example/`)
    and would be a second place for a secret to leak.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- reading the port raises ValueError when it is malformed
    except ValueError:
        raise ForbiddenHostError("refused a malformed URL") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or not host:
        raise ForbiddenHostError("refused a URL that is not an absolute http(s) URL")
    if "@" in parts.netloc:
        raise ForbiddenHostError(f"refused a URL with user credentials in it (host {host})")
    domains = tuple(domains)
    if _in_domains(host, domains):
        if scheme != "https":
            raise ForbiddenHostError(f"refused http://{host}: {service} hosts must be reached over https")
        return
    if not _in_domains(host, _normalized(extra_hosts)):
        raise ForbiddenHostError(
            f"refused host {host}: not a {service} host ({', '.join(domains)} or a subdomain)"
            " nor a configured extra host"
        )
