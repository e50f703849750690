"""The simulator's fault-injection endpoint, its setup functions and its staff page."""

import pytest
from django.db import connection
from django.test import Client

from sync.simulator import setup
from sync.simulator.models import (
    CtiaEntity,
    SimulatedFault,
    SimulatedMerakiOrganization,
    SimulatedThreatResponseClient,
    SimulatedWebexBot,
    SimulatedWebexMessage,
    SimulatedWebexRoom,
    digest,
)

FAULTS = "/simulator/control/faults"
PAGE = "/simulator/"
HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
ESCAPED = ["&lt;script&gt;alert(1)&lt;/script&gt;", "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"]

pytestmark = pytest.mark.django_db


def add_fault(client, payload: dict):
    return client.post(FAULTS, payload, content_type="application/json")


# --- control endpoint ----------------------------------------------------------------------------------------
def test_staff_adds_a_fault_and_gets_its_id(admin_client):
    response = add_fault(admin_client, {"api": "webex", "kind": "rate_limit", "retry_after": 3, "remaining": 2})

    assert response.status_code == 201
    fault = SimulatedFault.objects.get(pk=response.json()["id"])
    assert (fault.api, fault.kind, fault.retry_after, fault.remaining, fault.skip) == ("webex", "rate_limit", 3, 2, 0)


def test_fault_fields_left_out_take_the_model_defaults(admin_client):
    response = add_fault(admin_client, {"api": "threatresponse", "kind": "server_error"})

    fault = SimulatedFault.objects.get(pk=response.json()["id"])
    assert (fault.skip, fault.remaining, fault.retry_after, fault.delay_seconds, fault.org_id) == (0, 1, 1, 0.0, "")


def test_staff_adds_a_meraki_redirect_for_one_organization(admin_client):
    response = add_fault(
        admin_client,
        {"api": "meraki", "kind": "redirect", "org_id": "123456", "shard_host": "n42.localhost:8000", "skip": 2},
    )

    assert response.status_code == 201
    fault = SimulatedFault.objects.get()
    assert (fault.org_id, fault.shard_host, fault.skip) == ("123456", "n42.localhost:8000", 2)


def test_staff_lists_faults(admin_client):
    SimulatedFault.objects.create(api="webex", kind="rate_limit")
    SimulatedFault.objects.create(api="meraki", kind="server_error", org_id="42")

    items = admin_client.get(FAULTS).json()["items"]

    assert [(item["api"], item["kind"], item["org_id"]) for item in items] == [
        ("webex", "rate_limit", ""),
        ("meraki", "server_error", "42"),
    ]
    assert {"id", "skip", "remaining", "retry_after", "delay_seconds", "shard_host", "fired"} <= set(items[0])


def test_delete_clears_every_fault(admin_client):
    SimulatedFault.objects.create(api="webex", kind="rate_limit")
    SimulatedFault.objects.create(api="meraki", kind="server_error")

    response = admin_client.delete(FAULTS)

    assert response.status_code == 200
    assert response.json() == {"deleted": 2}
    assert not SimulatedFault.objects.exists()


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_anonymous_users_are_refused(client, method):
    SimulatedFault.objects.create(api="webex", kind="rate_limit")

    response = getattr(client, method)(
        FAULTS, {"api": "webex", "kind": "server_error"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert SimulatedFault.objects.count() == 1


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_non_staff_users_are_refused(client, django_user_model, method):
    client.force_login(django_user_model.objects.create_user(username="analyst", password="x"))
    SimulatedFault.objects.create(api="webex", kind="rate_limit")

    response = getattr(client, method)(
        FAULTS, {"api": "webex", "kind": "server_error"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert SimulatedFault.objects.count() == 1


def test_session_post_without_csrf_token_is_refused(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    response = add_fault(client, {"api": "webex", "kind": "rate_limit"})

    assert response.status_code == 403
    assert not SimulatedFault.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "rate_limit"}, "api"),
        ({"api": "slack", "kind": "rate_limit"}, "api"),
        ({"api": "webex", "kind": "explode"}, "kind"),
        ({"api": "webex", "kind": "rate_limit", "remaining": 0}, "remaining"),
        ({"api": "webex", "kind": "rate_limit", "skip": -1}, "skip"),
        ({"api": "webex", "kind": "rate_limit", "retry_after": "soon"}, "retry_after"),
        ({"api": "webex", "kind": "rate_limit", "retry_after": 1.5}, "retry_after"),
        ({"api": "webex", "kind": "rate_limit", "remaining": True}, "remaining"),
        ({"api": "webex", "kind": "slow"}, "delay_seconds"),
        ({"api": "webex", "kind": "slow", "delay_seconds": 100000}, "delay_seconds"),
        ({"api": "webex", "kind": "redirect", "shard_host": "x.test"}, "kind"),
        ({"api": "webex", "kind": "rate_limit", "org_id": "42"}, "org_id"),
        ({"api": "meraki", "kind": "redirect"}, "shard_host"),
        ({"api": "meraki", "kind": "redirect", "shard_host": "http://evil.test/path"}, "shard_host"),
        ({"api": "meraki", "kind": "server_error", "shard_host": "n1.test"}, "shard_host"),
        ({"api": "webex", "kind": "rate_limit", "retryAfter": 5}, "__all__"),
    ],
)
def test_bad_fault_is_400_with_the_field_in_error(admin_client, payload, field):
    response = add_fault(admin_client, payload)

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not SimulatedFault.objects.exists()


@pytest.mark.parametrize("body", ["not json", "[]", ""])
def test_fault_body_that_is_not_a_json_object_is_400(admin_client, body):
    response = admin_client.post(FAULTS, body, content_type="application/json")

    assert response.status_code == 400
    assert not SimulatedFault.objects.exists()


# --- setup functions -----------------------------------------------------------------------------------------
def _all_stored_text() -> str:
    """Every column of every simulator table, as the database holds it."""
    with connection.cursor() as cursor:
        chunks = []
        for model in (
            SimulatedMerakiOrganization,
            SimulatedThreatResponseClient,
            SimulatedWebexBot,
            SimulatedWebexRoom,
        ):
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")  # noqa: S608 (table names from models)
            chunks += [str(value) for row in cursor.fetchall() for value in row]
    return "\n".join(chunks)


def test_create_meraki_organization_is_idempotent_and_updates(db):
    first = setup.create_meraki_organization(org_id="123456", name="Acme", api_key="meraki-key-1")
    SimulatedMerakiOrganization.objects.filter(pk=first.pk).update(requests_served=5)

    again = setup.create_meraki_organization(
        org_id="123456", name="Acme Corp", api_key="meraki-key-2", events_per_hour=120, seed=7
    )

    assert again.pk == first.pk
    assert SimulatedMerakiOrganization.objects.count() == 1
    stored = SimulatedMerakiOrganization.objects.get()
    assert (stored.name, stored.events_per_hour, stored.seed) == ("Acme Corp", 120, 7)
    assert stored.api_key_sha256 == digest("meraki-key-2")
    assert stored.requests_served == 5


def test_create_threat_response_client_is_idempotent(db):
    first = setup.create_threat_response_client(client_id="client-abc", client_secret="secret-1")
    again = setup.create_threat_response_client(client_id="client-abc", client_secret="secret-2", region="eu")

    assert again.pk == first.pk
    stored = SimulatedThreatResponseClient.objects.get()
    assert (stored.region, stored.client_secret_sha256) == ("eu", digest("secret-2"))


def test_create_threat_response_client_refuses_an_unknown_region(db):
    with pytest.raises(ValueError, match="region"):
        setup.create_threat_response_client(client_id="c", client_secret="s", region="mars")


def test_create_webex_bot_is_idempotent_on_its_token(db):
    first = setup.create_webex_bot(name="Bot", token="webex-token-1")
    again = setup.create_webex_bot(name="Renamed bot", token="webex-token-1")

    assert again.pk == first.pk
    assert SimulatedWebexBot.objects.get().name == "Renamed bot"


def test_create_webex_room_is_idempotent_with_a_webex_style_id(db):
    bot = setup.create_webex_bot(name="Bot", token="webex-token-1")

    first = setup.create_webex_room(bot=bot, title="Meraki incidents")
    again = setup.create_webex_room(bot=bot, title="Meraki incidents")

    assert again.pk == first.pk
    assert SimulatedWebexRoom.objects.count() == 1
    assert first.room_id.startswith("Y2lzY29zcGFyazovL3VzL1JPT00v")
    assert list(first.members.all()) == [bot]


def test_setup_stores_no_secret_in_clear(db):
    secrets = {"api_key": "meraki-key-in-clear-0001", "secret": "tr-secret-in-clear-0002", "token": "webex-token-0003"}
    setup.create_meraki_organization(org_id="1", name="Org", api_key=secrets["api_key"])
    setup.create_threat_response_client(client_id="client", client_secret=secrets["secret"])
    setup.create_webex_room(bot=setup.create_webex_bot(name="Bot", token=secrets["token"]), title="Room")

    stored = _all_stored_text()

    for secret in secrets.values():
        assert secret not in stored
        assert digest(secret) in stored


# --- page ----------------------------------------------------------------------------------------------------
def _populate(text: str = "") -> None:
    setup.create_meraki_organization(org_id=f"111{text}", name=f"Acme {text}", api_key="k", events_per_hour=90)
    setup.create_threat_response_client(client_id=f"client {text}", client_secret="s")
    CtiaEntity.objects.create(
        entity_type="incident",
        entity_id=f"https://private.intel.amp.cisco.com:443/ctia/incident/incident-1{text}",
        external_ids=[f"meraki-incidents-incident-abc{text}"],
        body={"type": "incident", "title": f"C2 beaconing {text}"},
    )
    bot = setup.create_webex_bot(name=f"Bot {text}", token="t")
    room = setup.create_webex_room(bot=bot, title=f"Alerts {text}")
    SimulatedWebexMessage.objects.create(
        message_id="m1", room=room, bot=bot, markdown=f"**New incident** {text}", text="New incident"
    )
    SimulatedFault.objects.create(api="meraki", kind="server_error", org_id=f"42{text}")


def test_page_redirects_anonymous_users_to_the_admin_login(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_page_redirects_non_staff_users_to_the_admin_login(client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="analyst", password="x"))

    response = client.get(PAGE)

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_page_shows_empty_states(admin_client):
    response = admin_client.get(PAGE)

    assert response.status_code == 200
    content = response.content.decode()
    assert content.count("Nothing received yet: promotion sends here once configured.") == 2
    assert "No active fault" in content


def test_page_shows_what_each_api_served_and_received(admin_client):
    _populate()
    SimulatedMerakiOrganization.objects.update(events_served=1234, rate_limited_served=17)

    response = admin_client.get(PAGE)

    assert response.status_code == 200
    content = response.content.decode()
    for expected in (
        "Acme",
        "<code>111</code>",
        '<td class="number">90</td>',
        '<td class="number">1234</td>',
        '<td class="number">17</td>',
        "ctia/incident/incident-1</code>",
        "<code>meraki-incidents-incident-abc</code>",
        "C2 beaconing",
        "Alerts",
        '<pre tabindex="0">**New incident** </pre>',
        "HTTP 500",
    ):
        assert expected in content, expected
    assert "Nothing received yet" not in content


def test_page_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    _populate()
    with django_assert_max_num_queries(20) as few:
        admin_client.get(PAGE)
    for n in range(5):
        bot = setup.create_webex_bot(name=f"Bot {n}", token=f"token-{n}")
        room = setup.create_webex_room(bot=bot, title=f"Room {n}")
        SimulatedWebexMessage.objects.create(message_id=f"m-{n}", room=room, bot=bot, text="x")

    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(PAGE)


@pytest.mark.parametrize("hostile", range(len(HOSTILE)))
def test_page_escapes_everything_the_apis_received(admin_client, hostile):
    _populate(HOSTILE[hostile])

    content = admin_client.get(PAGE).content.decode()

    assert HOSTILE[hostile] not in content
    assert "<img" not in content
    assert "<script" not in content
    assert content.count(ESCAPED[hostile]) >= 9
