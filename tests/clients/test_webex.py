import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers

from sync.clients.errors import (
    AccessError,
    ApiError,
    AuthError,
    ForbiddenHostError,
    NotFoundError,
    PaginationError,
    RateLimitedError,
    TransientError,
)
from sync.clients.webex import MAX_MESSAGE_BYTES, WebexClient

BASE = "https://webexapis.com/v1"
ROOMS = f"{BASE}/rooms"
MESSAGES = f"{BASE}/messages"
TOKEN = "ZmFrZS1ib3QtdG9rZW4tMDEyMzQ1Njc4OWFiY2RlZg"
ROOM_ID = "Y2lzY29zcGFyazovL3VzL1JPT00vYWxlcnRz"
MESSAGE = {"id": "Y2lzY29zcGFyazovL3VzL01FU1NBR0UvMQ", "roomId": ROOM_ID, "markdown": "**hi**", "text": "hi"}


def room(title: str, room_id: str | None = None) -> dict[str, str]:
    return {"id": room_id or f"room-{title}", "title": title, "type": "group"}


def next_link(url: str) -> dict[str, str]:
    return {"Link": f'<{url}>; rel="next"'}


@pytest.fixture
def make_client(sleeps):
    def make(**overrides) -> WebexClient:
        return WebexClient(**({"base_url": BASE, "token": TOKEN, "sleep": sleeps.append} | overrides))

    return make


# Finding a room


def test_room_on_the_first_page_is_found_with_one_request(api, make_client):
    api.get(ROOMS, json={"items": [room("Other"), room("Alerts", ROOM_ID)]})

    assert make_client().find_room_id("Alerts") == ROOM_ID
    request = api.calls[0].request
    assert parse_qs(urlsplit(request.url).query) == {"type": ["group"], "max": ["100"]}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"


def test_room_on_page_two_is_found_through_the_quoted_link_header(api, make_client):
    page2 = f"{ROOMS}?type=group&max=100&cursor=abc"
    api.get(
        ROOMS,
        json={"items": [room("Other")]},
        headers=next_link(page2),
        match=[matchers.query_param_matcher({"type": "group", "max": "100"})],
    )
    api.get(
        page2,
        json={"items": [room("Alerts", ROOM_ID)]},
        match=[matchers.query_param_matcher({"type": "group", "max": "100", "cursor": "abc"})],
    )
    client = make_client()

    assert client.find_room_id("Alerts") == ROOM_ID
    assert len(api.calls) == 2
    assert api.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert client.pages == 2


def test_unquoted_rel_next_is_followed_too(api, make_client):
    page2 = f"{ROOMS}?cursor=abc"
    api.get(
        ROOMS,
        json={"items": []},
        headers={"Link": f"<{page2}>; rel=next"},
        match=[matchers.query_param_matcher({"type": "group", "max": "100"})],
    )
    api.get(page2, json={"items": [room("Alerts", ROOM_ID)]})

    assert make_client().find_room_id("Alerts") == ROOM_ID


def test_the_first_exact_title_match_wins(api, make_client):
    api.get(
        ROOMS,
        json={"items": [room("alerts"), room("Alerts "), room("Alerts", ROOM_ID), room("Alerts", "second")]},
    )

    assert make_client().find_room_id("Alerts") == ROOM_ID


def test_room_not_found_raises_not_found_error_asking_to_invite_the_bot(api, make_client):
    api.get(ROOMS, json={"items": [room("alerts"), room("SOC Alerts")]})

    with pytest.raises(NotFoundError) as raised:
        make_client().find_room_id("Alerts")

    assert raised.value.message == "Webex room 'Alerts' not found: invite the bot to it"


def test_next_link_to_a_foreign_host_is_refused_and_the_token_never_sent(api, make_client):
    api.get(ROOMS, json={"items": []}, headers=next_link("https://evil.example/v1/rooms?cursor=x"))
    api.get("https://evil.example/v1/rooms", json={"items": [room("Alerts")]})

    with pytest.raises(ForbiddenHostError) as raised:
        make_client().find_room_id("Alerts")

    assert "evil.example" in raised.value.message
    assert "bot token was not sent" in raised.value.message
    assert [urlsplit(call.request.url).hostname for call in api.calls] == ["webexapis.com"]


def test_next_link_over_plain_http_is_refused(api, make_client):
    api.get(ROOMS, json={"items": []}, headers=next_link("http://webexapis.com/v1/rooms?cursor=x"))

    with pytest.raises(ForbiddenHostError, match="https"):
        make_client().find_room_id("Alerts")
    assert len(api.calls) == 1


def test_next_link_repeating_a_page_stops_with_pagination_error(api, make_client):
    page2 = f"{ROOMS}?cursor=same"
    api.get(
        ROOMS,
        json={"items": []},
        headers=next_link(page2),
        match=[matchers.query_param_matcher({"type": "group", "max": "100"})],
    )
    api.get(page2, json={"items": []}, headers=next_link(page2))

    with pytest.raises(PaginationError, match="repeats a page"):
        make_client().find_room_id("Alerts")
    assert len(api.calls) == 2


def test_page_cap_stops_the_room_walk(api, make_client):
    def endless(request):
        cursor = int(parse_qs(urlsplit(request.url).query).get("cursor", ["0"])[0])
        return 200, next_link(f"{ROOMS}?cursor={cursor + 1}"), json.dumps({"items": [room(f"r{cursor}")]})

    api.add_callback(responses.GET, ROOMS, callback=endless)

    with pytest.raises(PaginationError, match="cap of 3 pages"):
        make_client(max_pages=3).find_room_id("Alerts")
    assert len(api.calls) == 3


def test_room_list_without_items_is_transient_error(api, make_client):
    api.get(ROOMS, json={"rooms": []})

    with pytest.raises(TransientError, match="no items list"):
        make_client(max_attempts=2).find_room_id("Alerts")
    assert len(api.calls) == 2


def test_room_list_401_raises_auth_error(api, make_client):
    api.get(ROOMS, status=401, json={"message": "The request requires a valid access token"})

    with pytest.raises(AuthError, match=r"Webex rejected the bot token \(HTTP 401\)"):
        make_client().find_room_id("Alerts")


# Posting a message


def test_post_message_sends_markdown_and_text_and_returns_the_message(api, make_client):
    api.post(MESSAGES, json=MESSAGE)

    message = make_client().post_message(room_id=ROOM_ID, markdown="**hi**", text="hi")

    assert message == MESSAGE
    request = api.calls[0].request
    assert json.loads(request.body) == {"roomId": ROOM_ID, "markdown": "**hi**", "text": "hi"}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"


def test_post_message_without_text_sends_only_markdown(api, make_client):
    api.post(MESSAGES, json=MESSAGE)

    make_client().post_message(room_id=ROOM_ID, markdown="**hi**")

    assert json.loads(api.calls[0].request.body) == {"roomId": ROOM_ID, "markdown": "**hi**"}


def test_post_404_raises_not_found_error_asking_to_invite_the_bot(api, make_client):
    api.post(MESSAGES, status=404, json={"message": "Could not find a room with provided ID."})

    with pytest.raises(NotFoundError) as raised:
        make_client().post_message(room_id=ROOM_ID, markdown="hi")

    assert raised.value.message == "Webex room not found or the bot is not a member: invite the bot to it"
    assert raised.value.status == 404
    assert len(api.calls) == 1


def test_post_401_raises_auth_error(api, make_client):
    api.post(MESSAGES, status=401, json={"message": "The request requires a valid access token"})

    with pytest.raises(AuthError) as raised:
        make_client().post_message(room_id=ROOM_ID, markdown="hi")

    assert raised.value.message.startswith("Webex rejected the bot token (HTTP 401)")
    assert raised.value.status == 401
    assert len(api.calls) == 1


def test_post_400_raises_api_error_with_webex_message(api, make_client):
    api.post(MESSAGES, status=400, json={"message": "Unable to post message: markdown is invalid", "errors": []})

    with pytest.raises(ApiError) as raised:
        make_client().post_message(room_id=ROOM_ID, markdown="hi")

    assert type(raised.value) is ApiError
    assert raised.value.message == (
        "Webex API rejected the message (HTTP 400): Webex says: Unable to post message: markdown is invalid"
    )
    assert len(api.calls) == 1


def test_post_403_raises_access_error(api, make_client):
    api.post(MESSAGES, status=403, json={"message": "Only moderators can post in this space"})

    with pytest.raises(AccessError, match="Only moderators"):
        make_client().post_message(room_id=ROOM_ID, markdown="hi")


def test_429_waits_retry_after_then_posts(api, make_client, sleeps):
    api.post(MESSAGES, status=429, headers={"Retry-After": "7"}, json={"message": "Too many requests"})
    api.post(MESSAGES, json=MESSAGE)
    client = make_client()

    assert client.post_message(room_id=ROOM_ID, markdown="hi") == MESSAGE
    assert sleeps == [7.0]
    assert (client.rate_limited, client.retries, client.requests_sent) == (1, 1, 2)


def test_429_without_retry_after_waits_the_sdk_default_of_15_seconds(api, make_client, sleeps):
    api.post(MESSAGES, status=429)
    api.post(MESSAGES, json=MESSAGE)

    make_client().post_message(room_id=ROOM_ID, markdown="hi")

    assert sleeps == [15.0]


def test_retry_after_below_one_second_waits_one_second(api, make_client, sleeps):
    api.post(MESSAGES, status=429, headers={"Retry-After": "0"})
    api.post(MESSAGES, json=MESSAGE)

    make_client().post_message(room_id=ROOM_ID, markdown="hi")

    assert sleeps == [1.0]


def test_huge_retry_after_is_capped(api, make_client, sleeps):
    api.post(MESSAGES, status=429, headers={"Retry-After": "86400"})
    api.post(MESSAGES, json=MESSAGE)

    make_client(max_retry_after=60).post_message(room_id=ROOM_ID, markdown="hi")

    assert sleeps == [60]


@pytest.mark.parametrize("status", [423, 503])
def test_423_and_503_are_waited_out_like_429(api, make_client, sleeps, status):
    api.post(MESSAGES, status=status, headers={"Retry-After": "3"})
    api.post(MESSAGES, status=status)
    api.post(MESSAGES, json=MESSAGE)
    client = make_client()

    client.post_message(room_id=ROOM_ID, markdown="hi")

    assert sleeps == [3.0, 15.0]
    assert client.rate_limited == 2


def test_endless_429_gives_up_with_rate_limited_error(api, make_client, sleeps):
    api.post(MESSAGES, status=429, headers={"Retry-After": "2"})

    with pytest.raises(RateLimitedError, match="Webex API rate limit still exceeded"):
        make_client(max_rate_limit_retries=2).post_message(room_id=ROOM_ID, markdown="hi")
    assert len(api.calls) == 3
    assert sleeps == [2.0, 2.0]


def test_5xx_backs_off_then_gives_up_with_transient_error(api, make_client, sleeps):
    api.post(MESSAGES, status=500)
    api.post(MESSAGES, status=502)

    with pytest.raises(TransientError) as raised:
        make_client(max_attempts=3).post_message(room_id=ROOM_ID, markdown="hi")

    assert raised.value.message == "Webex API unavailable after 3 attempts: HTTP 502"
    assert len(api.calls) == 3
    assert len(sleeps) == 2
    assert all(0.5 <= wait <= 2.0 for wait in sleeps)


def test_garbled_2xx_after_posting_is_not_posted_again(api, make_client):
    api.post(MESSAGES, body="<html>ok</html>", content_type="text/html")

    assert make_client().post_message(room_id=ROOM_ID, markdown="hi") == {}
    assert len(api.calls) == 1


# Message size, in bytes


def test_markdown_of_exactly_the_limit_in_bytes_is_sent(api, make_client):
    api.post(MESSAGES, json=MESSAGE)
    markdown = "é" * 3719 + "a"  # 3720 characters, 7439 bytes

    make_client().post_message(room_id=ROOM_ID, markdown=markdown)

    assert len(api.calls) == 1


def test_markdown_over_the_limit_in_bytes_is_refused_before_sending(api, make_client):
    markdown = "é" * 3720  # only 3720 characters, but 7440 bytes

    with pytest.raises(ValueError, match=r"markdown is 7440 bytes .* 7439-byte limit"):
        make_client().post_message(room_id=ROOM_ID, markdown=markdown)
    assert len(api.calls) == 0


def test_text_over_the_limit_in_bytes_is_refused_too(api, make_client):
    text = "🚨" * (MAX_MESSAGE_BYTES // 4 + 1)

    with pytest.raises(ValueError, match="text is"):
        make_client().post_message(room_id=ROOM_ID, markdown="ok", text=text)
    assert len(api.calls) == 0


def test_empty_message_is_refused(make_client):
    with pytest.raises(ValueError, match="needs markdown or text"):
        make_client().post_message(room_id=ROOM_ID, markdown="")


# Hosts, redirects, secrets


def test_foreign_base_url_is_refused_at_construction(make_client):
    with pytest.raises(ForbiddenHostError, match="not a Webex API host"):
        make_client(base_url="https://webexapis.com.evil.net/v1")


def test_extra_allowed_host_allows_the_http_simulator(api, make_client):
    simulator = "http://localhost:8000/simulator/webex/v1"
    api.post(f"{simulator}/messages", json=MESSAGE)

    client = make_client(base_url=simulator, extra_allowed_hosts=["localhost"])

    assert client.post_message(room_id=ROOM_ID, markdown="hi") == MESSAGE


def test_redirect_is_not_followed_with_the_token(api, make_client):
    api.post(MESSAGES, status=307, headers={"Location": "https://evil.example/v1/messages"})
    api.post("https://evil.example/v1/messages", json=MESSAGE)

    with pytest.raises(ApiError, match=r"redirecting to evil\.example: not followed"):
        make_client().post_message(room_id=ROOM_ID, markdown="hi")
    assert len(api.calls) == 1


def test_missing_token_is_refused(make_client):
    with pytest.raises(AuthError, match="no Webex bot token"):
        make_client(token="")


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 401, "json": {"message": "bad token"}},
        {"status": 400, "json": {"message": f"token {TOKEN} is odd"}},
        {"status": 403, "body": f"no {TOKEN}"},
        {"status": 404},
        {"status": 500},
        {"status": 429, "headers": {"Retry-After": "1"}},
        {"status": 302, "headers": {"Location": f"https://evil.example/?t={TOKEN}"}},
        {"body": requests.ConnectionError("boom")},
    ],
    ids=["401", "400-echo", "403-echo", "404", "500", "429", "redirect", "conn-error"],
)
def test_token_never_appears_in_errors_or_logs(api, make_client, caplog, reply):
    caplog.set_level(logging.DEBUG)
    api.post(MESSAGES, **reply)
    client = make_client(max_attempts=2, max_rate_limit_retries=1)

    with pytest.raises(ApiError) as raised:
        client.post_message(room_id=ROOM_ID, markdown="hi")

    assert TOKEN not in str(raised.value)
    assert TOKEN not in repr(client)
    assert caplog.records
    assert all(TOKEN not in record.getMessage() for record in caplog.records)
