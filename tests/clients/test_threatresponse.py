import base64
import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sync.clients.errors import AccessError, ApiError, AuthError, ForbiddenHostError, NotFoundError, TransientError
from sync.clients.threatresponse import ThreatResponseClient

TOKEN_URL = "https://visibility.amp.cisco.com/iroh/oauth2/token"
INTEL = "https://private.intel.amp.cisco.com"
IMPORT = f"{INTEL}/ctia/bundle/import"
CLIENT_ID = "client-0a1b2c3d-4e5f"
SECRET = "s3cret-QWERTYUIOPASDFGHJKLZXCVBNM0123"
TOKEN = "eyJhbGciOi.first-token.SIGNATURE1"
TOKEN_2 = "eyJhbGciOi.second-token.SIGNATURE2"
BUNDLE = {
    "type": "bundle",
    "source": "meraki-incidents",
    "incidents": [{"id": "transient:mi-incident-1", "type": "incident", "external_ids": ["mi-incident-abc"]}],
}
RESULTS = [
    {
        "id": f"{INTEL}:443/ctia/incident/incident-5fe3d6a4",
        "original_id": "transient:mi-incident-1",
        "result": "created",
        "type": "incident",
        "external_ids": ["mi-incident-abc"],
    }
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(sleeps, clock):
    def make(**overrides) -> ThreatResponseClient:
        options = {
            "token_url": TOKEN_URL,
            "intel_url": INTEL,
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "sleep": sleeps.append,
            "clock": clock,
        }
        return ThreatResponseClient(**(options | overrides))

    return make


def token_reply(api, token: str = TOKEN, expires_in: int = 600) -> None:
    api.post(TOKEN_URL, json={"access_token": token, "token_type": "bearer", "expires_in": expires_in})


def calls_to(api, url: str) -> list:
    return [call for call in api.calls if call.request.url.split("?")[0] == url]


# Token


def test_token_request_sends_basic_auth_and_the_client_credentials_form(api, make_client):
    token_reply(api)

    make_client().check_credentials()

    request = api.calls[0].request
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Accept"] == "application/json"
    assert request.body == "grant_type=client_credentials"


def test_token_is_fetched_once_and_reused_across_imports(api, make_client):
    token_reply(api)
    api.post(IMPORT, json={"results": RESULTS})
    client = make_client()

    client.import_bundle(BUNDLE)
    client.import_bundle(BUNDLE)
    client.import_bundle(BUNDLE)

    assert len(calls_to(api, TOKEN_URL)) == 1
    assert (client.tokens_fetched, client.requests_sent) == (1, 4)


def test_token_is_renewed_a_minute_before_it_expires(api, make_client, clock):
    token_reply(api, TOKEN, expires_in=600)
    token_reply(api, TOKEN_2, expires_in=600)
    api.post(IMPORT, json={"results": []})
    client = make_client()

    client.import_bundle(BUNDLE)
    clock.now += 539
    client.import_bundle(BUNDLE)
    clock.now += 1
    client.import_bundle(BUNDLE)

    bearers = [call.request.headers["Authorization"] for call in calls_to(api, IMPORT)]
    assert bearers == [f"Bearer {TOKEN}", f"Bearer {TOKEN}", f"Bearer {TOKEN_2}"]
    assert client.tokens_fetched == 2


def test_token_without_expires_in_is_kept_for_the_documented_ten_minutes(api, make_client, clock):
    api.post(TOKEN_URL, json={"access_token": TOKEN})
    api.post(IMPORT, json={"results": []})
    client = make_client()

    client.import_bundle(BUNDLE)
    clock.now += 539
    client.import_bundle(BUNDLE)

    assert client.tokens_fetched == 1


def test_401_from_import_renews_the_token_once_and_retries_the_import(api, make_client):
    token_reply(api, TOKEN)
    token_reply(api, TOKEN_2)
    api.post(IMPORT, status=401, json={"error": "invalid_token"})
    api.post(IMPORT, json={"results": RESULTS})
    client = make_client()

    assert client.import_bundle(BUNDLE) == RESULTS
    assert [urlsplit(call.request.url).path for call in api.calls] == [
        "/iroh/oauth2/token",
        "/ctia/bundle/import",
        "/iroh/oauth2/token",
        "/ctia/bundle/import",
    ]
    assert calls_to(api, IMPORT)[1].request.headers["Authorization"] == f"Bearer {TOKEN_2}"
    assert client.tokens_fetched == 2


def test_401_again_with_a_fresh_token_raises_auth_error(api, make_client):
    token_reply(api)
    api.post(IMPORT, status=401)

    with pytest.raises(AuthError, match="freshly issued token") as raised:
        make_client().import_bundle(BUNDLE)

    assert raised.value.status == 401
    assert len(calls_to(api, IMPORT)) == 2
    assert len(calls_to(api, TOKEN_URL)) == 2


@pytest.mark.parametrize("status", [400, 401])
def test_bad_credentials_raise_auth_error_without_the_secret(api, make_client, caplog, status):
    caplog.set_level(logging.DEBUG)
    api.post(TOKEN_URL, status=status, json={"error": "invalid_client", "error_description": f"bad secret {SECRET}"})

    with pytest.raises(AuthError) as raised:
        make_client().check_credentials()

    assert raised.value.message == (
        f"Threat Response rejected the client id/secret (HTTP {status}): check the account's credentials"
    )
    assert raised.value.status == status
    assert len(api.calls) == 1
    assert SECRET not in str(raised.value)
    assert caplog.records
    assert all(SECRET not in record.getMessage() for record in caplog.records)


def test_bad_credentials_on_import_raise_auth_error_before_any_ctia_call(api, make_client):
    api.post(TOKEN_URL, status=401)

    with pytest.raises(AuthError, match="client id/secret"):
        make_client().import_bundle(BUNDLE)
    assert calls_to(api, IMPORT) == []


def test_token_answer_without_access_token_is_transient_error(api, make_client):
    api.post(TOKEN_URL, json={"token_type": "bearer"})

    with pytest.raises(TransientError, match="body has no access_token"):
        make_client(max_attempts=2).check_credentials()


def test_token_endpoint_5xx_is_retried(api, make_client, sleeps):
    api.post(TOKEN_URL, status=502)
    token_reply(api)

    make_client().check_credentials()

    assert len(sleeps) == 1


def test_token_url_not_found_names_the_token_url(api, make_client):
    api.post(TOKEN_URL, status=404)

    with pytest.raises(NotFoundError, match="check the Threat Response token URL"):
        make_client().check_credentials()


# Bundle import


def test_import_posts_the_bundle_as_json_with_the_bearer_token(api, make_client):
    token_reply(api)
    api.post(IMPORT, json={"results": RESULTS})

    results = make_client().import_bundle(BUNDLE)

    assert results == RESULTS
    request = calls_to(api, IMPORT)[0].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert json.loads(request.body) == BUNDLE
    assert urlsplit(request.url).query == ""


def test_external_key_prefixes_are_sent_as_one_query_parameter(api, make_client):
    token_reply(api)
    api.post(IMPORT, json={"results": []})

    make_client().import_bundle(BUNDLE, external_key_prefixes=["mi-", "meraki-"])

    query = parse_qs(urlsplit(calls_to(api, IMPORT)[0].request.url).query)
    assert query == {"external-key-prefixes": ["mi-,meraki-"]}


def test_import_400_raises_api_error_with_ctia_text_without_retry(api, make_client, sleeps):
    token_reply(api)
    api.post(IMPORT, status=400, body="Bundle max nb of entities: 2000", content_type="text/plain")

    with pytest.raises(ApiError) as raised:
        make_client().import_bundle(BUNDLE)

    assert type(raised.value) is ApiError
    assert raised.value.status == 400
    assert raised.value.message == (
        "Threat Response rejected the bundle import (HTTP 400): CTIA says: Bundle max nb of entities: 2000"
    )
    assert len(calls_to(api, IMPORT)) == 1
    assert sleeps == []


def test_import_400_schema_errors_are_shown_on_one_truncated_line(api, make_client):
    token_reply(api)
    errors = {"incidents": [{"confidence": "missing-required-key", "note": "x\n" * 2000}]}
    api.post(IMPORT, status=400, json={"errors": errors})

    with pytest.raises(ApiError) as raised:
        make_client().import_bundle(BUNDLE)

    assert "missing-required-key" in raised.value.message
    assert "\n" not in raised.value.message
    assert len(raised.value.message) < 400


def test_import_403_raises_access_error_naming_the_missing_scope(api, make_client):
    token_reply(api)
    api.post(IMPORT, status=403, json={"error": "Missing capability"})

    with pytest.raises(AccessError) as raised:
        make_client().import_bundle(BUNDLE)

    assert "private-intel scope / import-bundle capability" in raised.value.message
    assert raised.value.status == 403
    assert len(calls_to(api, IMPORT)) == 1


def test_import_404_points_at_the_private_intel_url(api, make_client):
    token_reply(api)
    api.post(IMPORT, status=404)

    with pytest.raises(NotFoundError, match="check the private intel URL"):
        make_client().import_bundle(BUNDLE)


def test_429_with_retry_after_then_success_is_counted(api, make_client, sleeps):
    token_reply(api)
    api.post(IMPORT, status=429, headers={"Retry-After": "7"}, json={"error": "Too Many Requests"})
    api.post(IMPORT, json={"results": RESULTS})
    client = make_client()

    assert client.import_bundle(BUNDLE) == RESULTS
    assert sleeps == [7.0]
    assert (client.rate_limited, client.retries) == (1, 1)


def test_huge_retry_after_is_capped(api, make_client, sleeps):
    token_reply(api)
    api.post(IMPORT, status=429, headers={"Retry-After": "3600"})
    api.post(IMPORT, json={"results": []})

    make_client(max_retry_after=60).import_bundle(BUNDLE)

    assert sleeps == [60]


def test_500_every_time_raises_transient_error_after_the_attempt_limit(api, make_client, sleeps):
    token_reply(api)
    api.post(IMPORT, status=500)

    with pytest.raises(TransientError) as raised:
        make_client(max_attempts=3).import_bundle(BUNDLE)

    assert raised.value.message == "Threat Response unavailable after 3 attempts: HTTP 500"
    assert len(calls_to(api, IMPORT)) == 3
    assert len(sleeps) == 2


def test_timeout_then_success_is_retried(api, make_client):
    token_reply(api)
    api.post(IMPORT, body=requests.Timeout("read timed out"))
    api.post(IMPORT, json={"results": RESULTS})

    assert make_client().import_bundle(BUNDLE) == RESULTS


@pytest.mark.parametrize(
    "reply",
    [
        {"json": {"results": "created"}},
        {"json": {"results": ["created"]}},
        {"json": [{"result": "created"}]},
        {"body": "<html>gateway</html>", "content_type": "text/html"},
    ],
    ids=["results-not-a-list", "results-not-objects", "body-a-list", "not-json"],
)
def test_malformed_200_raises_transient_error(api, make_client, reply):
    token_reply(api)
    api.post(IMPORT, **reply)

    with pytest.raises(TransientError, match="malformed response"):
        make_client(max_attempts=2).import_bundle(BUNDLE)
    assert len(calls_to(api, IMPORT)) == 2


def test_empty_results_list_is_returned(api, make_client):
    token_reply(api)
    api.post(IMPORT, json={"results": []})

    assert make_client().import_bundle(BUNDLE) == []


# Hosts and redirects


@pytest.mark.parametrize(
    "urls",
    [
        {"token_url": "https://visibility.evil.example/iroh/oauth2/token"},
        {"intel_url": "https://private.intel.amp.cisco.com.evil.net"},
        {"intel_url": "http://private.intel.amp.cisco.com"},
        {"token_url": "https://user:pw@visibility.amp.cisco.com/iroh/oauth2/token"},
    ],
    ids=["foreign-token-host", "lookalike-intel-host", "plain-http", "credentials-in-url"],
)
def test_url_outside_the_allow_list_is_refused_at_construction(api, make_client, urls):
    with pytest.raises(ForbiddenHostError):
        make_client(**urls)
    assert len(api.calls) == 0


def test_regional_hosts_are_allowed(make_client):
    client = make_client(
        token_url="https://visibility.eu.amp.cisco.com/iroh/oauth2/token",
        intel_url="https://private.intel.eu.amp.cisco.com/",
    )

    assert client.intel_url == "https://private.intel.eu.amp.cisco.com"


def test_extra_allowed_host_allows_the_http_simulator(api, make_client):
    simulator = "http://localhost:8000/simulator/threatresponse"
    api.post(f"{simulator}/iroh/oauth2/token", json={"access_token": TOKEN, "expires_in": 600})
    api.post(f"{simulator}/ctia/bundle/import", json={"results": RESULTS})
    client = make_client(
        token_url=f"{simulator}/iroh/oauth2/token", intel_url=simulator, extra_allowed_hosts=["localhost"]
    )

    assert client.import_bundle(BUNDLE) == RESULTS


def test_redirect_from_import_is_not_followed_and_the_token_stays_home(api, make_client):
    token_reply(api)
    api.post(IMPORT, status=307, headers={"Location": "https://evil.example/ctia/bundle/import"})
    api.post("https://evil.example/ctia/bundle/import", json={"results": []})

    with pytest.raises(ApiError) as raised:
        make_client().import_bundle(BUNDLE)

    assert "redirecting to evil.example: not followed" in raised.value.message
    assert raised.value.status == 307
    assert all(urlsplit(call.request.url).hostname != "evil.example" for call in api.calls)


def test_redirect_from_token_url_is_not_followed_with_the_secret(api, make_client):
    api.post(TOKEN_URL, status=302, headers={"Location": "https://evil.example/token"})
    api.post("https://evil.example/token", json={"access_token": "stolen"})

    with pytest.raises(ApiError, match="not followed"):
        make_client().check_credentials()
    assert len(api.calls) == 1


def test_missing_credentials_are_refused(make_client):
    with pytest.raises(AuthError, match="no Threat Response client id/secret"):
        make_client(client_secret="")


# Secrets


@pytest.mark.parametrize(
    ("token_answer", "import_answer"),
    [
        ({"status": 401, "json": {"error_description": f"bad {SECRET}"}}, None),
        ({"status": 503}, None),
        ({"status": 429, "headers": {"Retry-After": "1"}}, None),
        (None, {"status": 400, "json": {"error": f"token {TOKEN} / secret {SECRET} invalid"}}),
        (None, {"status": 403, "body": f"forbidden for {TOKEN}"}),
        (None, {"status": 401}),
        (None, {"status": 500}),
        (None, {"status": 302, "headers": {"Location": f"https://evil.example/?t={TOKEN}"}}),
        (None, {"body": requests.ConnectionError("boom")}),
    ],
    ids=["token-401", "token-503", "token-429", "400-echo", "403-echo", "401-twice", "500", "redirect", "conn-error"],
)
def test_secret_and_token_never_appear_in_errors_or_logs(api, make_client, caplog, token_answer, import_answer):
    caplog.set_level(logging.DEBUG)
    if token_answer is None:
        token_reply(api)
        api.post(IMPORT, **import_answer)
    else:
        api.post(TOKEN_URL, **token_answer)
    client = make_client(max_attempts=2, max_rate_limit_retries=1)

    with pytest.raises(ApiError) as raised:
        client.import_bundle(BUNDLE)

    for secret in (SECRET, TOKEN):
        assert secret not in str(raised.value)
        assert secret not in repr(client)
        assert all(secret not in record.getMessage() for record in caplog.records)
    assert caplog.records
