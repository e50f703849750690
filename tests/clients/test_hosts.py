import pytest

from sync.clients.errors import ForbiddenHostError
from sync.clients.hosts import check_url_allowed, is_allowed_host


@pytest.mark.parametrize(
    "host",
    [
        "meraki.com",
        "api.meraki.com",
        "n123.meraki.com",
        "API.Meraki.COM",
        "api.meraki.ca",
        "api.meraki.cn",
        "api.meraki.in",
        "api.gov-meraki.com",
    ],
)
def test_meraki_domains_and_their_subdomains_are_allowed(host):
    assert is_allowed_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "evilmeraki.com",
        "meraki.com.evil.net",
        "api.meraki.com.evil.net",
        "meraki.co",
        "gov-meraki.com.example",
        "example.com",
        "",
        "api.meraki.com\\evil.net",
        "api.meraki.com ",
    ],
)
def test_other_and_lookalike_hosts_are_not_allowed(host):
    assert not is_allowed_host(host)


def test_extra_host_is_allowed_exactly_and_with_subdomains():
    assert is_allowed_host("localhost", extra_hosts=["localhost"])
    assert is_allowed_host("sim.localhost", extra_hosts=["LocalHost"])
    assert not is_allowed_host("notlocalhost", extra_hosts=["localhost"])


def test_empty_extra_host_entries_allow_nothing():
    assert not is_allowed_host("example.com", extra_hosts=["", " "])


@pytest.mark.parametrize(
    "url",
    [
        "https://api.meraki.com/api/v1",
        "https://n123.meraki.com/api/v1/organizations/1/appliance/security/events?startingAfter=x",
        "https://api.meraki.com:443/api/v1",
    ],
)
def test_https_meraki_urls_pass(url):
    check_url_allowed(url)


def test_http_meraki_url_is_refused():
    with pytest.raises(ForbiddenHostError, match="https"):
        check_url_allowed("http://api.meraki.com/api/v1")


def test_listing_a_meraki_host_as_extra_does_not_allow_http_to_it():
    with pytest.raises(ForbiddenHostError, match="https"):
        check_url_allowed("http://api.meraki.com/api/v1", extra_hosts=["api.meraki.com"])


@pytest.mark.parametrize("url", ["http://localhost:8765/api/v1", "https://sim.localhost/api/v1"])
def test_extra_hosts_pass_over_http_and_https(url):
    check_url_allowed(url, extra_hosts=["localhost"])


def test_foreign_host_is_refused_with_its_name():
    with pytest.raises(ForbiddenHostError, match=r"evil\.example"):
        check_url_allowed("https://evil.example/api/v1")


@pytest.mark.parametrize("url", ["https://api.meraki.com@evil.example/", "https://user:secret@api.meraki.com/api/v1"])
def test_urls_with_user_credentials_are_refused(url):
    with pytest.raises(ForbiddenHostError, match="credentials") as raised:
        check_url_allowed(url)
    assert "secret" not in raised.value.message


@pytest.mark.parametrize(
    "url", ["ftp://api.meraki.com/x", "/api/v1/organizations", "api.meraki.com/api/v1", "https:///api/v1"]
)
def test_non_absolute_or_non_http_urls_are_refused(url):
    with pytest.raises(ForbiddenHostError, match="absolute"):
        check_url_allowed(url)


def test_malformed_port_is_refused():
    with pytest.raises(ForbiddenHostError, match="malformed"):
        check_url_allowed("https://api.meraki.com:99999/api/v1")
