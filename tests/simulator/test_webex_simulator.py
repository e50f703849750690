"""The simulated Webex REST API behaves as the documented one does for rooms and messages."""

import base64
import re

import pytest

from sync.simulator import setup
from sync.simulator.models import SimulatedFault, SimulatedWebexMessage, SimulatedWebexRoom
from sync.simulator.webex import views

ROOMS = "/simulator/webex/v1/rooms"
MESSAGES = "/simulator/webex/v1/messages"
TOKEN = "bot-token-for-tests-0123456789"
OTHER_TOKEN = "another-bot-token-9876543210"
LINK_NEXT = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot():
    return setup.create_webex_bot(name="Incident Bot", token=TOKEN)


@pytest.fixture
def room(bot):
    return setup.create_webex_room(bot=bot, title="Meraki incidents")


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_message(client, payload: dict, token: str = TOKEN):
    return client.post(MESSAGES, payload, content_type="application/json", headers=auth(token))


# --- authentication ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"}])
def test_requests_without_a_valid_bot_token_get_401(client, bot, headers):
    response = client.get(ROOMS, headers=headers)

    assert response.status_code == 401
    body = response.json()
    assert body["message"] == "The request requires a valid access token set in the Authorization request header."
    assert body["errors"] and body["trackingId"]


def test_message_post_without_a_valid_token_stores_nothing(client, room):
    response = post_message(client, {"roomId": room.room_id, "text": "hi"}, token="wrong")

    assert response.status_code == 401
    assert not SimulatedWebexMessage.objects.exists()


# --- rooms ---------------------------------------------------------------------------------------------------
def test_rooms_lists_the_bots_rooms_oldest_first_with_the_documented_fields(client, bot):
    first = setup.create_webex_room(bot=bot, title="First")
    second = setup.create_webex_room(bot=bot, title="Second")
    other_bot = setup.create_webex_bot(name="Other", token=OTHER_TOKEN)
    setup.create_webex_room(bot=other_bot, title="Not mine")

    response = client.get(ROOMS, headers=auth())

    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["id"] for item in items] == [first.room_id, second.room_id]
    assert set(items[0]) == {"id", "title", "type", "isLocked", "lastActivity", "created", "creatorId"}
    assert items[0]["title"] == "First"
    assert items[0]["type"] == "group"
    assert items[0]["isLocked"] is False
    assert items[0]["created"].endswith("Z")
    assert "Link" not in response.headers


def test_rooms_pages_with_max_and_an_absolute_link_to_the_next_page(client, bot):
    created = [setup.create_webex_room(bot=bot, title=f"Room {n}") for n in range(5)]

    seen, url, pages = [], f"{ROOMS}?max=2", 0
    while url:
        response = client.get(url, headers=auth())
        assert response.status_code == 200
        items = response.json()["items"]
        assert len(items) <= 2
        seen += [item["id"] for item in items]
        pages += 1
        link = response.headers.get("Link")
        url = None
        if link:
            match = LINK_NEXT.match(link)
            assert match, link
            url = match["url"]
            assert url.startswith("http://testserver/simulator/webex/v1/rooms?")
            assert "max=2" in url

    assert pages == 3
    assert seen == [room.room_id for room in created]


def test_rooms_without_max_returns_up_to_100(client, bot):
    rooms = [SimulatedWebexRoom(room_id=f"room-{n}", title=f"Room {n}") for n in range(101)]
    SimulatedWebexRoom.objects.bulk_create(rooms)
    bot.rooms.add(*SimulatedWebexRoom.objects.all())

    response = client.get(ROOMS, headers=auth())

    assert len(response.json()["items"]) == 100
    assert LINK_NEXT.match(response.headers["Link"])


@pytest.mark.parametrize("value", ["0", "1001", "-1", "ten", ""])
def test_rooms_max_out_of_range_is_400(client, bot, value):
    response = client.get(ROOMS, {"max": value}, headers=auth())

    assert response.status_code == 400
    assert "max" in response.json()["message"]


def test_rooms_rejects_a_forged_cursor(client, bot):
    response = client.get(ROOMS, {"cursor": "not-a-cursor"}, headers=auth())

    assert response.status_code == 400


def test_last_activity_is_the_latest_message_time(client, room):
    post_message(client, {"roomId": room.room_id, "text": "hello"})
    message = SimulatedWebexMessage.objects.get()

    item = client.get(ROOMS, headers=auth()).json()["items"][0]

    assert item["lastActivity"] == views._timestamp(message.created_at)


def test_create_room_makes_the_bot_a_member(client, bot):
    response = client.post(ROOMS, {"title": "Alerts"}, content_type="application/json", headers=auth())

    assert response.status_code == 200
    body = response.json()
    room = SimulatedWebexRoom.objects.get(room_id=body["id"])
    assert body["title"] == "Alerts"
    assert body["type"] == "group"
    assert body["id"].startswith("Y2lzY29zcGFyazovL3VzL1JPT00v")
    assert body["creatorId"] == views._person_id(bot)
    assert list(room.members.all()) == [bot]
    assert [item["id"] for item in client.get(ROOMS, headers=auth()).json()["items"]] == [body["id"]]


@pytest.mark.parametrize("payload", [{}, {"title": ""}, {"title": 42}, {"title": "x" * 256}])
def test_create_room_without_a_valid_title_is_400(client, bot, payload):
    response = client.post(ROOMS, payload, content_type="application/json", headers=auth())

    assert response.status_code == 400
    assert "title" in response.json()["message"]
    assert not SimulatedWebexRoom.objects.exists()


# --- messages ------------------------------------------------------------------------------------------------
def test_message_is_stored_and_echoed(client, bot, room):
    response = post_message(client, {"roomId": room.room_id, "markdown": "**New incident**", "text": "New incident"})

    assert response.status_code == 200
    body = response.json()
    message = SimulatedWebexMessage.objects.get()
    assert (message.room, message.bot, message.markdown, message.text) == (
        room,
        bot,
        "**New incident**",
        "New incident",
    )
    assert body["id"] == message.message_id
    assert base64.b64decode(body["id"] + "==").decode().startswith("ciscospark://us/MESSAGE/")
    assert body["roomId"] == room.room_id
    assert body["roomType"] == "group"
    assert body["markdown"] == "**New incident**"
    assert body["text"] == "New incident"
    assert body["personId"] == views._person_id(bot)
    assert body["personEmail"] == "incident-bot@webex.bot"
    assert body["created"].endswith("Z")


def test_message_with_markdown_only_is_accepted(client, room):
    response = post_message(client, {"roomId": room.room_id, "markdown": "_only markdown_"})

    assert response.status_code == 200
    assert SimulatedWebexMessage.objects.get().markdown == "_only markdown_"


@pytest.mark.parametrize("field", ["text", "markdown"])
def test_message_limit_is_7439_bytes_not_characters(client, room, field):
    # "é" is 2 bytes in UTF-8: 3719 of them plus one ASCII character make exactly 7439 bytes in 3720 characters.
    at_limit = "é" * 3719 + "a"
    over_limit = "é" * 3720
    assert len(at_limit.encode()) == 7439
    assert len(over_limit) < 7439 < len(over_limit.encode())

    accepted = post_message(client, {"roomId": room.room_id, field: at_limit})
    refused = post_message(client, {"roomId": room.room_id, field: over_limit})

    assert accepted.status_code == 200
    assert refused.status_code == 400
    assert "7439 bytes" in refused.json()["message"]
    assert SimulatedWebexMessage.objects.count() == 1


def test_message_to_an_unknown_room_is_404(client, bot):
    response = post_message(client, {"roomId": "Y2lzY29zcGFyazovL3VzL1JPT00vbm9uZQ", "text": "hi"})

    assert response.status_code == 404
    assert not SimulatedWebexMessage.objects.exists()


def test_message_to_a_room_the_bot_is_not_a_member_of_is_404(client, room):
    setup.create_webex_bot(name="Outsider", token=OTHER_TOKEN)

    response = post_message(client, {"roomId": room.room_id, "text": "hi"}, token=OTHER_TOKEN)

    assert response.status_code == 404
    assert not SimulatedWebexMessage.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "no room"},
        {"roomId": "", "text": "empty room"},
        {"roomIdX": "typo", "text": "x"},
        {"roomId": "room"},
        {"roomId": "room", "text": "", "markdown": ""},
        {"roomId": "room", "html": "<b>html only</b>"},
        {"roomId": "room", "text": ["not", "a", "string"]},
    ],
)
def test_message_without_room_or_content_is_400(client, room, payload):
    payload = {key: room.room_id if value == "room" else value for key, value in payload.items()}

    response = post_message(client, payload)

    assert response.status_code == 400
    assert response.json()["message"]
    assert not SimulatedWebexMessage.objects.exists()


def test_message_body_that_is_not_a_json_object_is_400(client, room):
    response = client.post(MESSAGES, "[1, 2]", content_type="application/json", headers=auth())

    assert response.status_code == 400


def test_get_messages_is_not_allowed(client, room):
    assert client.get(MESSAGES, headers=auth()).status_code == 405


# --- faults --------------------------------------------------------------------------------------------------
def test_rate_limit_fault_gives_429_with_retry_after_then_recovers(client, room):
    SimulatedFault.objects.create(api=SimulatedFault.Api.WEBEX, kind=SimulatedFault.Kind.RATE_LIMIT, retry_after=7)

    limited = post_message(client, {"roomId": room.room_id, "text": "first try"})
    retried = post_message(client, {"roomId": room.room_id, "text": "second try"})

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert retried.status_code == 200
    assert list(SimulatedWebexMessage.objects.values_list("text", flat=True)) == ["second try"]
    assert SimulatedFault.objects.get().fired == 1


def test_rate_limit_fault_applies_after_skipped_requests(client, bot):
    SimulatedFault.objects.create(api=SimulatedFault.Api.WEBEX, kind=SimulatedFault.Kind.RATE_LIMIT, skip=1)

    assert client.get(ROOMS, headers=auth()).status_code == 200
    assert client.get(ROOMS, headers=auth()).status_code == 429
    assert client.get(ROOMS, headers=auth()).status_code == 200


def test_faults_of_other_apis_do_not_touch_webex(client, bot):
    SimulatedFault.objects.create(api=SimulatedFault.Api.MERAKI, kind=SimulatedFault.Kind.RATE_LIMIT)

    assert client.get(ROOMS, headers=auth()).status_code == 200
    assert SimulatedFault.objects.get().remaining == 1


def test_server_error_fault_gives_500(client, room):
    SimulatedFault.objects.create(api=SimulatedFault.Api.WEBEX, kind=SimulatedFault.Kind.SERVER_ERROR)

    response = post_message(client, {"roomId": room.room_id, "text": "hi"})

    assert response.status_code == 500
    assert not SimulatedWebexMessage.objects.exists()


def test_slow_fault_delays_a_normal_answer(client, room, monkeypatch):
    slept = []
    monkeypatch.setattr(views, "_sleep", slept.append)
    SimulatedFault.objects.create(api=SimulatedFault.Api.WEBEX, kind=SimulatedFault.Kind.SLOW, delay_seconds=2.5)

    response = post_message(client, {"roomId": room.room_id, "text": "hi"})

    assert response.status_code == 200
    assert slept == [2.5]
