"""The JSON API: schema, filters, paging, permissions, tokens, re-push, and hostile data coming back inert."""

import base64
import json
from datetime import timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sync.models import (
    Incident,
    NotificationStatus,
    PromotionAttempt,
    PromotionStatus,
    SecurityEvent,
    SyncRun,
    ThreatResponseAccount,
)
from sync.services.ingest import store_events
from sync.simulator.models import CtiaEntity
from tests.api.conftest import NOW, client_for, make_event
from tests.factories import TEST_API_KEY, ids_event, make_organization

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"
REPUSH = "/api/v1/events/repush"
INCIDENTS = "/api/v1/incidents"
SYNC_RUNS = "/api/v1/sync-runs"
SCHEMA = "/api/v1/schema"
HOSTILE = {
    "message": "<script>alert('message')</script>",
    "client_name": '"><img src=x onerror=alert(1)>',
    "uri": "javascript:alert(document.cookie)//" + "A" * 1900,
    "canonical_name": "**bold** [link](javascript:alert(1)) <b>x</b>",
    "signature": "&lt;already-escaped&gt; & \u202e reversed",
}


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


def make_incident(organization, **fields) -> Incident:
    number = Incident.objects.count() + 1
    fields.setdefault("ctia_id", f"https://private.intel.amp.cisco.com/ctia/incident/incident-{number}")
    fields.setdefault("external_id", f"meraki-incidents-incident-{number}")
    return Incident.objects.create(
        organization=organization, title=f"Incident {number}", severity="High", status="New", **fields
    )


def make_run(organization, *, minutes_ago: int, **fields) -> SyncRun:
    started = NOW - timedelta(minutes=minutes_ago)
    return SyncRun.objects.create(
        organization=organization, started_at=started, finished_at=started + timedelta(seconds=3), **fields
    )


# --- schema -----------------------------------------------------------------------------------------------------


def test_schema_generates_as_valid_openapi_without_warnings(tmp_path):
    target = tmp_path / "schema.json"

    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(target))

    schema = json.loads(target.read_text())
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/events",
        "/api/v1/events/{event_id}",
        "/api/v1/events/repush",
        "/api/v1/incidents",
        "/api/v1/incidents/{incident_id}",
        "/api/v1/sync-runs",
    }


def test_schema_is_served_as_json_by_default(analyst_client):
    response = analyst_client.get(SCHEMA)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["openapi"].startswith("3.")
    assert analyst_client.get(SCHEMA, {"format": "json"}).json() == response.json()


def test_schema_documents_every_filter_of_the_events_page(analyst_client):
    from sync.filtersets import EventFilterForm

    operation = analyst_client.get(SCHEMA).json()["paths"]["/api/v1/events"]["get"]

    documented = {parameter["name"] for parameter in operation["parameters"]}
    assert documented == {*EventFilterForm.base_fields, "cursor", "limit"}
    assert {"200", "400", "401", "403"} <= set(operation["responses"])


def test_no_schema_component_names_a_secret(analyst_client):
    text = analyst_client.get(SCHEMA).content.decode()

    for secret_field in ("api_key", "client_secret", "bot_token", "lease_owner"):
        assert secret_field not in text


# --- authentication and permissions -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [EVENTS, f"{EVENTS}/1", INCIDENTS, f"{INCIDENTS}/1", SYNC_RUNS, SCHEMA])
def test_anonymous_requests_get_401_with_the_token_challenge(db, path):
    response = client_for(None).get(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response["Content-Type"] == "application/json"


def test_anonymous_repush_gets_401(db):
    assert client_for(None).post(REPUSH, {"ids": [1]}, format="json").status_code == 401


@pytest.mark.parametrize("path", [EVENTS, INCIDENTS, SYNC_RUNS])
def test_a_user_without_view_permission_gets_403(nobody, path):
    response = client_for(nobody).get(path)

    assert response.status_code == 403
    assert response.json() == {"detail": "You do not have permission to view these."}


@pytest.mark.parametrize("path", [EVENTS, INCIDENTS, SYNC_RUNS])
def test_an_analyst_reads_every_list(analyst_client, path):
    assert analyst_client.get(path).status_code == 200


def test_a_superuser_reads_without_a_group(django_user_model, organization):
    make_event(organization)
    admin = django_user_model.objects.create_superuser("root", password="not-used-1234")

    assert len(ids(client_for(admin).get(EVENTS))) == 1


def test_a_token_authenticates_without_a_session(analyst_token, organization):
    event = make_event(organization)
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {analyst_token.key}")

    response = client.get(EVENTS)

    assert response.status_code == 200
    assert ids(response) == [event.pk]


def test_a_revoked_token_stops_working(analyst_token):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {analyst_token.key}")
    assert client.get(EVENTS).status_code == 200

    analyst_token.delete()

    assert client.get(EVENTS).status_code == 401


def test_the_token_of_a_deactivated_user_is_refused(analyst, analyst_token):
    analyst.is_active = False
    analyst.save()
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {analyst_token.key}")

    assert client.get(EVENTS).status_code == 401


def test_a_wrong_token_is_refused(analyst_token):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    assert client.get(EVENTS).status_code == 401


# --- events: filters ----------------------------------------------------------------------------------------------


def test_events_come_newest_first(analyst_client, organization):
    older = make_event(organization, ts=NOW - timedelta(hours=2))
    newer = make_event(organization, ts=NOW - timedelta(hours=1))

    assert ids(analyst_client.get(EVENTS)) == [newer.pk, older.pk]


def test_events_filter_by_organization(analyst_client, organization):
    other = make_organization()
    mine = make_event(organization)
    make_event(other)

    assert ids(analyst_client.get(EVENTS, {"organization": organization.pk})) == [mine.pk]


def test_events_filter_by_type_priority_and_promotion_status(analyst_client, organization):
    wanted = make_event(organization, priority=1, promotion_status=PromotionStatus.FAILED)
    make_event(organization, priority=2, promotion_status=PromotionStatus.FAILED)
    make_event(organization, priority=1, promotion_status=PromotionStatus.PROMOTED)
    make_event(organization, event_type="File Scanned", priority=1, promotion_status=PromotionStatus.FAILED)

    response = analyst_client.get(EVENTS, {"event_type": "IDS Alert", "priority": 1, "promotion": "failed"})

    assert ids(response) == [wanted.pk]


def test_events_filter_by_time_range(analyst_client, organization):
    make_event(organization, ts=NOW - timedelta(hours=3))
    inside = make_event(organization, ts=NOW - timedelta(hours=2))
    make_event(organization, ts=NOW)

    response = analyst_client.get(
        EVENTS, {"since": (NOW - timedelta(hours=2)).isoformat(), "until": (NOW - timedelta(hours=1)).isoformat()}
    )

    assert ids(response) == [inside.pk]


def test_events_search_by_ip_matches_source_or_destination(analyst_client, organization):
    source = make_event(organization, src_ip="192.0.2.7")
    destination = make_event(organization, dest_ip="192.0.2.7")
    make_event(organization, src_ip="192.0.2.70")

    assert set(ids(analyst_client.get(EVENTS, {"q": "192.0.2.7"}))) == {source.pk, destination.pk}


def test_events_search_by_words_of_the_message(analyst_client, organization):
    match = make_event(organization, message="SERVER-WEBAPP JBoss JMX console access attempt")
    make_event(organization, message="Something else")

    assert ids(analyst_client.get(EVENTS, {"q": "jboss"})) == [match.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"priority": "9"}, "priority"),
        ({"organization": "999999"}, "organization"),
        ({"promotion": "lost"}, "promotion"),
        ({"since": "yesterday"}, "since"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_an_invalid_parameter_is_a_400_naming_it(analyst_client, params, field):
    response = analyst_client.get(EVENTS, params)

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert all(isinstance(message, str) for message in response.json()[field])


@pytest.mark.parametrize(
    ("name", "value"), [("since", "0001-01-01T00:00:00+01:00"), ("until", "9999-12-31T23:59:59-01:00")]
)
def test_a_time_beyond_the_calendar_in_utc_is_a_400(analyst_client, name, value):
    response = analyst_client.get(EVENTS, {name: value})

    assert response.status_code == 400
    assert list(response.json()) == [name]


def test_a_time_with_any_offset_filters_at_its_utc_instant(analyst_client, organization):
    make_event(organization, ts=NOW - timedelta(hours=2))
    recent = make_event(organization, ts=NOW)
    far_west = timezone(-timedelta(hours=23, minutes=52))  # RFC 3339 allows it; PostgreSQL stops at 15:59

    response = analyst_client.get(EVENTS, {"since": (NOW - timedelta(hours=1)).astimezone(far_west).isoformat()})

    assert ids(response) == [recent.pk]


def test_a_cursor_with_any_offset_pages_at_its_utc_instant(analyst_client, organization):
    older = make_event(organization, ts=NOW - timedelta(hours=2))
    newer = make_event(organization, ts=NOW)
    position = f"{newer.ts.astimezone(timezone(timedelta(hours=23, minutes=30))).isoformat()}|{newer.pk}"
    cursor = base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")

    assert ids(analyst_client.get(EVENTS, {"cursor": cursor})) == [older.pk]


@pytest.mark.parametrize("path", [EVENTS, SYNC_RUNS])
@pytest.mark.parametrize("position", ["0001-01-01T00:00:00+01:00|5", "9999-12-31T23:59:59-01:00|5"])
def test_a_forged_cursor_beyond_the_calendar_is_a_400(analyst_client, path, position):
    cursor = base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")

    response = analyst_client.get(path, {"cursor": cursor})

    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


def test_an_unknown_api_path_is_a_json_404(analyst_client):
    for path in ("/api/v1/nothing", "/api/v1/events/-1", "/api/v1/events/"):
        response = analyst_client.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


def test_invalid_filters_are_reported_together(analyst_client):
    response = analyst_client.get(EVENTS, {"priority": "9", "limit": "500"})

    assert response.status_code == 400
    assert set(response.json()) == {"priority", "limit"}


# --- events: paging -----------------------------------------------------------------------------------------------


def test_following_next_links_reads_every_event_once_in_order(analyst_client, organization):
    same_time = NOW - timedelta(hours=1)
    events = [make_event(organization, ts=same_time) for _ in range(3)] + [make_event(organization) for _ in range(4)]
    expected = [event.pk for event in sorted(events, key=lambda event: (event.ts, event.pk), reverse=True)]

    seen, url, pages = [], f"{EVENTS}?limit=2", 0
    while url:
        body = analyst_client.get(url).json()
        seen += [item["id"] for item in body["results"]]
        url, pages = body["next"], pages + 1

    assert seen == expected
    assert pages == 4


def test_the_next_link_is_absolute_and_keeps_the_filters(analyst_client, organization):
    for _ in range(3):
        make_event(organization, priority=1)

    next_url = analyst_client.get(EVENTS, {"priority": 1, "limit": 2}).json()["next"]

    parts = urlsplit(next_url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "testserver", EVENTS)
    query = parse_qs(parts.query)
    assert (query["priority"], query["limit"]) == (["1"], ["2"])
    assert query["cursor"]


def test_the_last_page_has_no_next_link(analyst_client, organization):
    make_event(organization)

    assert analyst_client.get(EVENTS, {"limit": 1}).json()["next"] is None


def test_a_page_costs_the_same_queries_whatever_its_size(analyst_client, organization):
    incident = make_incident(organization)
    for _ in range(2):
        make_event(organization, incident=incident)
    with CaptureQueriesContext(connection) as small:
        assert len(ids(analyst_client.get(EVENTS))) == 2
    for _ in range(10):
        make_event(organization, incident=make_incident(make_organization()))

    with CaptureQueriesContext(connection) as large:
        assert len(ids(analyst_client.get(EVENTS))) == 12

    assert len(large) == len(small)


# --- events: detail -----------------------------------------------------------------------------------------------


def test_an_event_shows_every_field_its_raw_json_and_its_incident(analyst_client, organization):
    incident = make_incident(organization, console_url="https://xdr.us.security.cisco.com/incidents/1")
    event = make_event(
        organization,
        raw={"eventType": "IDS Alert", "nested": {"list": [1, None, "x"]}},
        src_ip="192.0.2.1",
        src_port=51000,
        blocked=True,
        promotion_status=PromotionStatus.PROMOTED,
        notification_status=NotificationStatus.SENT,
        incident=incident,
        webex_message_id="msg-1",
    )

    body = analyst_client.get(f"{EVENTS}/{event.pk}").json()

    assert body["raw"] == {"eventType": "IDS Alert", "nested": {"list": [1, None, "x"]}}
    assert (body["src_ip"], body["src_port"], body["blocked"]) == ("192.0.2.1", 51000, True)
    assert (body["promotion_status"], body["notification_status"]) == ("promoted", "sent")
    assert body["incident"]["id"] == incident.pk
    assert body["incident"]["console_url"] == "https://xdr.us.security.cisco.com/incidents/1"
    assert body["webex_message_id"] == "msg-1"
    model_fields = {field.name for field in SecurityEvent._meta.concrete_fields}
    assert model_fields - set(body) == set()


def test_an_event_lists_its_attempts_newest_first_with_who_started_them(analyst, analyst_client, organization):
    event = make_event(organization, promotion_status=PromotionStatus.FAILED, promotion_error="HTTP 403")
    PromotionAttempt.objects.create(event=event, kind="promotion", trigger="sync", outcome="retry", error="HTTP 503")
    PromotionAttempt.objects.create(
        event=event, kind="promotion", trigger="analyst", outcome="failed", error="HTTP 403", started_by=analyst
    )

    body = analyst_client.get(f"{EVENTS}/{event.pk}").json()

    assert [(a["trigger"], a["outcome"], a["error"], a["started_by"]) for a in body["attempts"]] == [
        ("analyst", "failed", "HTTP 403", "analyst"),
        ("sync", "retry", "HTTP 503", None),
    ]
    assert body["promotion_error"] == "HTTP 403"


def test_an_unknown_event_is_a_json_404(analyst_client):
    response = analyst_client.get(f"{EVENTS}/999999")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_the_list_leaves_out_the_raw_json(analyst_client, organization):
    make_event(organization)

    assert "raw" not in analyst_client.get(EVENTS).json()["results"][0]


def test_organizations_appear_without_their_configuration_or_key(analyst_client, organization):
    event = make_event(organization)
    run = make_run(organization, minutes_ago=5)

    for path in (EVENTS, f"{EVENTS}/{event.pk}", SYNC_RUNS):
        response = analyst_client.get(path)
        assert TEST_API_KEY not in response.content.decode()
        body = response.json()
        item = body["results"][0] if "results" in body else body
        assert item["organization"] == {
            "id": organization.pk,
            "name": organization.name,
            "meraki_org_id": organization.meraki_org_id,
        }
    assert run.pk in ids(analyst_client.get(SYNC_RUNS))


def test_hostile_strings_come_back_as_plain_json_strings(analyst_client, organization):
    event = make_event(organization, raw=dict(HOSTILE), **HOSTILE)

    for path in (EVENTS, f"{EVENTS}/{event.pk}"):
        response = analyst_client.get(path)
        assert response["Content-Type"] == "application/json"
        assert response["X-Content-Type-Options"] == "nosniff"
        body = response.json()
        item = body["results"][0] if "results" in body else body
        assert {name: item[name] for name in HOSTILE} == HOSTILE
    assert analyst_client.get(f"{EVENTS}/{event.pk}").json()["raw"] == HOSTILE


def test_a_search_for_markup_is_a_plain_search(analyst_client, organization):
    event = make_event(organization, **HOSTILE)

    response = analyst_client.get(EVENTS, {"q": "<script>"})

    assert response["Content-Type"] == "application/json"
    assert ids(response) == [event.pk]


# --- incidents and sync runs -------------------------------------------------------------------------------------


def test_incidents_list_with_their_event_counts(analyst_client, organization):
    incident = make_incident(organization)
    make_event(organization, incident=incident)
    make_event(organization, incident=incident)
    empty = make_incident(organization)

    results = analyst_client.get(INCIDENTS).json()["results"]

    assert [(item["id"], item["event_count"]) for item in results] == [(empty.pk, 0), (incident.pk, 2)]


def test_incidents_filter_by_organization_and_page(analyst_client, organization):
    mine = [make_incident(organization) for _ in range(3)]
    make_incident(make_organization())

    first = analyst_client.get(INCIDENTS, {"organization": organization.pk, "limit": 2}).json()
    second = analyst_client.get(first["next"]).json()

    assert [item["id"] for item in first["results"] + second["results"]] == [i.pk for i in reversed(mine)]
    assert second["next"] is None


def test_an_incident_shows_its_events(analyst_client, organization):
    incident = make_incident(organization)
    event = make_event(organization, incident=incident, promotion_status=PromotionStatus.PROMOTED)
    make_event(organization)

    body = analyst_client.get(f"{INCIDENTS}/{incident.pk}").json()

    assert body["ctia_id"] == incident.ctia_id
    assert [(item["id"], item["promotion_status"]) for item in body["events"]] == [(event.pk, "promoted")]


def test_an_unknown_incident_is_a_404(analyst_client):
    assert analyst_client.get(f"{INCIDENTS}/999999").status_code == 404


def test_sync_runs_filter_by_organization_and_page_by_cursor(analyst_client, organization):
    runs = [make_run(organization, minutes_ago=minutes, status="succeeded", pages=2) for minutes in (30, 20, 10)]
    make_run(make_organization(), minutes_ago=5)

    first = analyst_client.get(SYNC_RUNS, {"organization": organization.pk, "limit": 2}).json()
    second = analyst_client.get(first["next"]).json()

    assert [item["id"] for item in first["results"] + second["results"]] == [run.pk for run in reversed(runs)]
    assert first["results"][0]["duration_seconds"] == 3.0
    assert second["next"] is None


def test_sync_runs_of_an_unknown_organization_are_a_400(analyst_client):
    response = analyst_client.get(SYNC_RUNS, {"organization": 999999})

    assert response.status_code == 400
    assert list(response.json()) == ["organization"]


# --- re-push ------------------------------------------------------------------------------------------------------


@pytest.fixture
def unconfigured_account_organization(db):
    """Promotes to a Threat Response account without a client secret: every attempt fails, and nothing is sent."""
    account = ThreatResponseAccount.objects.create(name="TR", client_id="client")
    return make_organization(threat_response_account=account)


def test_repush_without_the_permission_is_403(viewer, organization):
    event = make_event(organization, promotion_status=PromotionStatus.FAILED)

    response = client_for(viewer).post(REPUSH, {"ids": [event.pk]}, format="json")

    assert response.status_code == 403
    assert PromotionAttempt.objects.count() == 0


def test_repush_with_a_session_needs_the_csrf_token(analyst, organization):
    event = make_event(organization, promotion_status=PromotionStatus.FAILED)

    response = client_for(analyst, enforce_csrf_checks=True).post(REPUSH, {"ids": [event.pk]}, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_repush_by_ids_records_an_attempt_by_the_user(analyst, analyst_token, unconfigured_account_organization):
    organization = unconfigured_account_organization
    event = make_event(organization, promotion_status=PromotionStatus.FAILED)
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {analyst_token.key}")

    response = client.post(REPUSH, {"ids": [event.pk]}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["selected"], body["truncated"]) == (1, False)
    [result] = body["organizations"]
    assert result["organization"]["id"] == organization.pk
    assert result["promotion"]["failed"] == 1
    assert "no client secret" in result["promotion"]["errors"][0]
    assert result["summary"].startswith("promotion succeeded=0 retry=0 failed=1")
    attempt = PromotionAttempt.objects.get(event=event)
    assert (attempt.trigger, attempt.started_by) == (PromotionAttempt.Trigger.ANALYST, analyst)


def test_repush_by_filter_takes_only_the_failed_events_matching_it(analyst_client, unconfigured_account_organization):
    organization = unconfigured_account_organization
    failed = make_event(organization, promotion_status=PromotionStatus.FAILED)
    make_event(organization, promotion_status=PromotionStatus.PENDING)
    make_event(make_organization(), promotion_status=PromotionStatus.FAILED)

    response = analyst_client.post(REPUSH, {"filter": {"organization": organization.pk}}, format="json")

    assert response.json()["selected"] == 1
    assert list(PromotionAttempt.objects.values_list("event_id", flat=True)) == [failed.pk]


def test_repush_by_filter_takes_the_newest_500(analyst_client, organization, monkeypatch):
    SecurityEvent.objects.bulk_create(
        SecurityEvent(
            organization=organization,
            ts=NOW - timedelta(seconds=n),
            fingerprint=f"bulk-{n}",
            promotion_status=PromotionStatus.FAILED,
        )
        for n in range(501)
    )
    oldest = SecurityEvent.objects.order_by("ts").first()
    pushed = []
    monkeypatch.setattr("sync.api.views.repush_events", lambda *, event_ids, user: pushed.extend(event_ids) or {})

    body = analyst_client.post(REPUSH, {"filter": {"promotion": "failed"}}, format="json").json()

    assert (body["selected"], body["truncated"]) == (500, True)
    assert len(set(pushed)) == 500
    assert oldest.pk not in pushed


def test_repush_of_events_never_eligible_does_nothing(analyst_client, organization):
    event = make_event(organization)  # not eligible

    body = analyst_client.post(REPUSH, {"ids": [event.pk]}, format="json").json()

    assert body == {"selected": 1, "truncated": False, "organizations": []}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "non_field_errors"),
        ({"ids": [1], "filter": {}}, "non_field_errors"),
        ({"ids": []}, "ids"),
        ({"ids": ["one"]}, "ids"),
        ({"ids": list(range(1, 502))}, "ids"),
        ({"filter": {"priority": 9}}, "filter"),
        ({"filter": {"colour": "red"}}, "filter"),
        ({"filter": "failed"}, "filter"),
        ({"filter": {"q": ["a", "b"]}}, "filter"),
    ],
)
def test_an_invalid_repush_is_a_400_naming_what(analyst_client, payload, field):
    response = analyst_client.post(REPUSH, payload, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_repush_of_an_id_beyond_the_database_is_a_400(analyst_client):
    response = analyst_client.post(REPUSH, {"ids": [2**63]}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["ids"]


def test_an_invalid_filter_value_is_named_inside_filter(analyst_client):
    response = analyst_client.post(REPUSH, {"filter": {"priority": 9}}, format="json")

    assert list(response.json()["filter"]) == ["priority"]


def test_repush_takes_only_json(analyst_client):
    response = analyst_client.post(REPUSH, {"ids": "1"})  # multipart

    assert response.status_code == 415


# --- re-push through the simulator: the failed event becomes promoted ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_repushing_a_failed_event_promotes_and_announces_it(analyst_client, simulated_organization):
    organization = simulated_organization
    run = SyncRun.objects.create(organization=organization, started_at=NOW)
    store_events(organization=organization, run=run, raw_events=[ids_event(NOW, priority=1)])
    event = SecurityEvent.objects.get(organization=organization)
    SecurityEvent.objects.filter(pk=event.pk).update(
        promotion_status=PromotionStatus.FAILED, promotion_error="HTTP 401"
    )

    body = analyst_client.post(REPUSH, {"ids": [event.pk]}, format="json").json()

    [result] = body["organizations"]
    assert (result["promotion"]["succeeded"], result["notification"]["succeeded"]) == (1, 1)
    detail = analyst_client.get(f"{EVENTS}/{event.pk}").json()
    assert (detail["promotion_status"], detail["notification_status"]) == ("promoted", "sent")
    assert detail["incident"]["ctia_id"] == CtiaEntity.objects.get(entity_type="incident").entity_id
