"""The simulated Threat Response (IROH token + CTIA private intel) over HTTP, with CTIA's bundle semantics."""

import base64
import json
import time

import pytest

from sync.simulator.models import CtiaEntity, SimulatedFault, SimulatedThreatResponseClient, digest
from sync.simulator.threatresponse import ctim, store, views

pytestmark = pytest.mark.django_db

BASE = "/simulator/threatresponse"
TOKEN_URL = f"{BASE}/iroh/oauth2/token"
CTIA = f"{BASE}/ctia"
CLIENT_ID = "client-0123"
CLIENT_SECRET = "s3cr3t-value"


@pytest.fixture
def api_client(db):
    return SimulatedThreatResponseClient.objects.create(client_id=CLIENT_ID, client_secret_sha256=digest(CLIENT_SECRET))


@pytest.fixture
def auth(api_client) -> dict:
    return {"Authorization": f"Bearer {store.issue_token(client_id=CLIENT_ID)}"}


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def request_token(client, *, headers=None, grant_type="client_credentials"):
    return client.post(
        TOKEN_URL,
        data=f"grant_type={grant_type}",
        content_type="application/x-www-form-urlencoded",
        headers=basic() if headers is None else headers,
    )


def post_json(client, url: str, body, headers: dict):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def import_bundle(client, bundle: dict, auth: dict, query: str = ""):
    response = post_json(client, f"{CTIA}/bundle/import{query}", bundle, auth)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def sighting(n: int = 1, **changes) -> dict:
    body = {
        "id": f"transient:sighting-{n}",
        "type": "sighting",
        "source": "meraki-incidents",
        "external_ids": [f"mi-sighting-{n}"],
        "title": f"IDS alert {n}",
        "confidence": "High",
        "severity": "High",
        "count": 1,
        "observed_time": {"start_time": "2025-01-10T08:00:00.000Z"},
        "observables": [{"type": "ip", "value": "203.0.113.7"}],
    }
    body.update(changes)
    return body


def incident(n: int = 1, **changes) -> dict:
    body = {
        "id": f"transient:incident-{n}",
        "type": "incident",
        "source": "meraki-incidents",
        "external_ids": [f"mi-incident-{n}"],
        "title": f"Incident {n}",
        "confidence": "High",
        "status": "New",
        "incident_time": {"opened": "2025-01-10T08:06:00.000Z"},
    }
    body.update(changes)
    return body


def relationship(n: int = 1, source_ref="transient:sighting-1", target_ref="transient:incident-1", **changes) -> dict:
    body = {
        "type": "relationship",
        "source": "meraki-incidents",
        "external_ids": [f"mi-relationship-{n}"],
        "relationship_type": "member-of",
        "source_ref": source_ref,
        "target_ref": target_ref,
    }
    body.update(changes)
    return body


def bundle(**arrays) -> dict:
    return {"type": "bundle", "source": "meraki-incidents", **arrays}


def by_original_id(results: list[dict]) -> dict[str, dict]:
    return {result["original_id"]: result for result in results if "original_id" in result}


def fault(kind: str, **fields) -> SimulatedFault:
    return SimulatedFault.objects.create(api=SimulatedFault.Api.THREAT_RESPONSE, kind=kind, **fields)


# --- token endpoint ----------------------------------------------------------------------------------------------


def test_token_is_issued_for_good_credentials(client, api_client):
    response = request_token(client)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 600
    assert body["scope"] == "private-intel"
    assert store.client_id_for_token(body["access_token"]) == CLIENT_ID


def test_issued_token_opens_the_ctia_endpoints(client, api_client):
    access_token = request_token(client).json()["access_token"]
    response = client.get(f"{CTIA}/sighting/external_id/none", headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(
    "headers",
    [basic(secret="wrong"), basic(client_id="unknown"), {}, {"Authorization": "Basic !!notbase64"}],
    ids=["wrong-secret", "unknown-client", "no-credentials", "garbled"],
)
def test_token_refuses_bad_credentials(client, api_client, headers):
    response = request_token(client, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", ""])
def test_token_refuses_other_grant_types(client, api_client, grant_type):
    response = request_token(client, grant_type=grant_type)
    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}


def test_token_endpoint_only_answers_post(client, api_client):
    assert client.get(TOKEN_URL, headers=basic()).status_code == 405


def test_ctia_refuses_a_request_without_token(client, api_client):
    response = post_json(client, f"{CTIA}/sighting", sighting(id=None), headers={})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert not CtiaEntity.objects.exists()


@pytest.mark.parametrize("authorization", ["Bearer not-a-token", "Bearer ", f"Basic {CLIENT_SECRET}", "Token abc"])
def test_ctia_refuses_invalid_tokens(client, api_client, authorization):
    response = client.get(f"{CTIA}/sighting/external_id/x", headers={"Authorization": authorization})
    assert response.status_code == 401


def test_ctia_refuses_a_token_signed_with_another_salt(client, api_client):
    from django.core import signing

    forged = signing.TimestampSigner(salt="other").sign_object({"client_id": CLIENT_ID})
    response = client.get(f"{CTIA}/sighting/external_id/x", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_ctia_refuses_an_expired_token(client, api_client):
    expired = store.issue_token(client_id=CLIENT_ID, issued_at=time.time() - store.TOKEN_LIFETIME - 1)
    response = client.get(f"{CTIA}/sighting/external_id/x", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert "expired" in response.json()["error_description"]


def test_a_token_is_accepted_until_it_expires(client, api_client):
    old = store.issue_token(client_id=CLIENT_ID, issued_at=time.time() - store.TOKEN_LIFETIME + 30)
    response = client.get(f"{CTIA}/sighting/external_id/x", headers={"Authorization": f"Bearer {old}"})
    assert response.status_code == 200


# --- bundle import -----------------------------------------------------------------------------------------------


def test_bundle_import_creates_every_entity_with_long_ids_on_the_request_host(client, auth):
    results = import_bundle(
        client, bundle(sightings=[sighting()], incidents=[incident()], relationships=[relationship()]), auth
    )
    assert [r["result"] for r in results] == ["created", "created", "created"]
    assert [r["type"] for r in results] == ["sighting", "incident", "relationship"]
    for result in results:
        entity_type = result["type"]
        assert result["id"].startswith(f"http://testserver{CTIA}/{entity_type}/{entity_type}-")
        assert ctim.is_long_id(result["id"])
        assert "error" not in result
    assert results[0]["original_id"] == "transient:sighting-1"
    assert results[0]["external_ids"] == ["mi-sighting-1"]
    assert "original_id" not in results[2]  # the relationship came without an id
    assert CtiaEntity.objects.count() == 3


def test_reimport_reports_exists_with_the_same_ids(client, auth):
    first = import_bundle(
        client, bundle(sightings=[sighting()], incidents=[incident()], relationships=[relationship()]), auth
    )
    second = import_bundle(
        client, bundle(sightings=[sighting()], incidents=[incident()], relationships=[relationship()]), auth
    )
    assert [r["result"] for r in second] == ["exists", "exists", "exists"]
    assert [r["id"] for r in second] == [r["id"] for r in first]
    assert CtiaEntity.objects.count() == 3


def test_reimport_never_modifies_the_stored_entity(client, auth):
    first = import_bundle(client, bundle(sightings=[sighting(title="first", count=1)]), auth)
    stored_before = CtiaEntity.objects.get().body
    second = import_bundle(client, bundle(sightings=[sighting(title="second", count=9, severity="Low")]), auth)
    assert second[0]["result"] == "exists"
    assert second[0]["id"] == first[0]["id"]
    stored = CtiaEntity.objects.get()
    assert stored.body == stored_before
    assert stored.body["title"] == "first"
    assert stored.body["count"] == 1


def test_matching_uses_any_shared_external_id(client, auth):
    first = import_bundle(client, bundle(sightings=[sighting(external_ids=["a", "b"])]), auth)
    second = import_bundle(client, bundle(sightings=[sighting(external_ids=["c", "b"])]), auth)
    assert second[0] == {**second[0], "result": "exists", "id": first[0]["id"], "external_ids": ["c", "b"]}


def test_matching_is_per_entity_type(client, auth):
    import_bundle(client, bundle(sightings=[sighting(external_ids=["shared-xid"])]), auth)
    results = import_bundle(client, bundle(incidents=[incident(external_ids=["shared-xid"])]), auth)
    assert results[0]["result"] == "created"


def test_same_external_id_twice_in_one_bundle_creates_both(client, auth):
    results = import_bundle(
        client, bundle(sightings=[sighting(1, external_ids=["dup"]), sighting(2, external_ids=["dup"])]), auth
    )
    assert [r["result"] for r in results] == ["created", "created"]
    assert results[0]["id"] != results[1]["id"]
    assert len(store.find_by_external_id(entity_type="sighting", external_id="dup")) == 2


def test_entities_without_external_ids_are_always_created(client, auth):
    body = bundle(sightings=[sighting(external_ids=[])], incidents=[incident(external_ids=None)])
    body["incidents"][0].pop("external_ids")
    first = import_bundle(client, body, auth)
    second = import_bundle(client, body, auth)
    assert [r["result"] for r in first + second] == ["created"] * 4
    assert CtiaEntity.objects.count() == 4


def test_external_key_prefixes_limit_the_matching_xids(client, auth):
    import_bundle(client, bundle(sightings=[sighting(external_ids=["other-1", "mi-1"])]), auth)
    body = bundle(sightings=[sighting(external_ids=["other-1", "mi-2"])])
    results = import_bundle(client, body, auth, query="?external-key-prefixes=mi-")
    assert results[0]["result"] == "created"
    assert results[0]["external_ids"] == ["mi-2"]
    results = import_bundle(client, body, auth, query="?external-key-prefixes=mi-,other-")
    assert results[0]["result"] == "exists"


def test_transient_ids_are_resolved_in_stored_relationships(client, auth):
    results = by_original_id(
        import_bundle(
            client, bundle(sightings=[sighting()], incidents=[incident()], relationships=[relationship()]), auth
        )
    )
    stored = CtiaEntity.objects.get(entity_type="relationship")
    assert stored.body["source_ref"] == results["transient:sighting-1"]["id"]
    assert stored.body["target_ref"] == results["transient:incident-1"]["id"]


def test_transient_ids_of_existing_entities_resolve_to_the_existing_ids(client, auth):
    first = by_original_id(import_bundle(client, bundle(sightings=[sighting()], incidents=[incident()]), auth))
    # A new sighting of the same incident: the incident exists, the relationship must point at the stored one.
    body = bundle(
        sightings=[sighting(2)],
        incidents=[incident()],
        relationships=[relationship(2, source_ref="transient:sighting-2")],
    )
    second = by_original_id(import_bundle(client, body, auth))
    assert second["transient:incident-1"]["result"] == "exists"
    stored = CtiaEntity.objects.get(entity_type="relationship")
    assert stored.body["target_ref"] == first["transient:incident-1"]["id"]
    assert stored.body["source_ref"] == second["transient:sighting-2"]["id"]


def test_long_id_refs_are_stored_as_sent(client, auth):
    existing = by_original_id(import_bundle(client, bundle(incidents=[incident()]), auth))["transient:incident-1"]["id"]
    import_bundle(client, bundle(sightings=[sighting()], relationships=[relationship(target_ref=existing)]), auth)
    assert CtiaEntity.objects.get(entity_type="relationship").body["target_ref"] == existing


def test_a_ref_to_an_unknown_transient_id_is_an_error(client, auth):
    body = bundle(sightings=[sighting()], relationships=[relationship(target_ref="transient:missing")])
    results = import_bundle(client, body, auth)
    assert results[0]["result"] == "created"
    assert results[1]["result"] == "error"
    assert "transient:missing" in results[1]["error"]
    assert "id" not in results[1]
    assert not CtiaEntity.objects.filter(entity_type="relationship").exists()


def test_a_ref_to_an_invalid_entity_of_the_bundle_is_an_error(client, auth):
    body = bundle(sightings=[sighting(observed_time={})], incidents=[incident()], relationships=[relationship()])
    results = import_bundle(client, body, auth)
    assert [r["result"] for r in results] == ["error", "created", "error"]
    assert "transient:sighting-1" in results[2]["error"]


def test_an_invalid_entity_is_an_error_while_the_others_are_created(client, auth):
    body = bundle(sightings=[sighting(1), sighting(2, confidence="Very High"), sighting(3)])
    results = by_original_id(import_bundle(client, body, auth))
    assert results["transient:sighting-2"]["result"] == "error"
    assert "confidence" in results["transient:sighting-2"]["error"]
    assert "id" not in results["transient:sighting-2"]
    assert results["transient:sighting-1"]["result"] == results["transient:sighting-3"]["result"] == "created"
    assert CtiaEntity.objects.count() == 2


def test_a_bundle_entity_with_a_real_id_is_an_error(client, auth):
    chosen = "https://private.intel.amp.cisco.com/ctia/sighting/sighting-0a55b5e4-1b2c-4d5e-8f90-0123456789ab"
    results = import_bundle(client, bundle(sightings=[sighting(id=chosen)]), auth)
    assert results[0]["result"] == "error"
    assert "Missing capability to specify entity ID" in results[0]["error"]
    assert results[0]["original_id"] == chosen


def test_other_entity_arrays_are_reported_as_unsupported(client, auth):
    results = import_bundle(client, bundle(sightings=[sighting()], judgements=[{"id": "transient:j1"}]), auth)
    assert results[0]["result"] == "created"
    assert results[1] == {
        "type": "judgement",
        "external_ids": [],
        "original_id": "transient:j1",
        "result": "error",
        "error": "judgement entities are not supported by the simulator",
    }


def test_a_bundle_of_2000_entities_is_imported(client, auth):
    body = bundle(
        sightings=[sighting(n, external_ids=[]) for n in range(1000)], incidents=[incident(n) for n in range(1000)]
    )
    results = import_bundle(client, body, auth)
    assert len(results) == 2000
    assert {r["result"] for r in results} == {"created"}
    assert CtiaEntity.objects.count() == 2000


def test_a_bundle_over_2000_entities_is_refused(client, auth):
    body = bundle(sightings=[sighting(n) for n in range(1500)], judgements=[{} for _ in range(501)])
    response = post_json(client, f"{CTIA}/bundle/import", body, auth)
    assert response.status_code == 400
    assert response.json() == {"error": "Bundle max nb of entities: 2000"}
    assert not CtiaEntity.objects.exists()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [({"sightings": []}, "source: required"), ({"source": "x", "alerts": []}, "alerts: unknown key"), ([], "object")],
)
def test_a_malformed_bundle_envelope_is_refused(client, auth, body, fragment):
    response = post_json(client, f"{CTIA}/bundle/import", body, auth)
    assert response.status_code == 400
    assert any(fragment in error for error in response.json()["errors"])


def test_bundle_import_refuses_malformed_json(client, auth):
    response = client.post(f"{CTIA}/bundle/import", data="{nope", content_type="application/json", headers=auth)
    assert response.status_code == 400


def test_imported_entities_get_the_server_fields_and_defaults(client, auth):
    payload = sighting()
    del payload["count"], payload["confidence"]
    import_bundle(client, bundle(sightings=[payload]), auth)
    stored = CtiaEntity.objects.get()
    body = stored.body
    assert body["id"] == stored.entity_id
    assert body["type"] == "sighting"
    assert body["schema_version"] == ctim.SCHEMA_VERSION
    assert body["owner"] == body["client_id"] == stored.client_id == CLIENT_ID
    assert len(body["groups"]) == 1
    assert ctim.parse_time(body["timestamp"]) is not None
    assert body["tlp"] == "green"
    assert body["count"] == 1
    assert body["confidence"] == "Unknown"
    assert stored.external_ids == ["mi-sighting-1"]


# --- single-entity POSTs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity_type", "payload"),
    [
        ("sighting", sighting(id=None)),
        ("incident", incident(id=None)),
        (
            "relationship",
            relationship(
                source_ref="https://private.intel.amp.cisco.com/ctia/sighting/sighting-0a55b5e4-1b2c-4d5e-8f90-0123456789ab",
                target_ref="https://private.intel.amp.cisco.com/ctia/incident/incident-0a55b5e4-1b2c-4d5e-8f90-0123456789ab",
            ),
        ),
    ],
)
def test_post_creates_the_entity_with_201_and_location(client, auth, entity_type, payload):
    payload = {key: value for key, value in payload.items() if value is not None}
    response = post_json(client, f"{CTIA}/{entity_type}", payload, auth)
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == body["id"]
    assert body["id"].startswith(f"http://testserver{CTIA}/{entity_type}/{entity_type}-")
    assert body["type"] == entity_type
    assert body["schema_version"] == ctim.SCHEMA_VERSION
    assert body["owner"] == body["client_id"] == CLIENT_ID
    assert body["groups"]
    assert body["tlp"] == "green"
    assert body["title" if "title" in payload else "relationship_type"] == payload.get("title", "member-of")
    assert CtiaEntity.objects.get().body == body


def test_post_keeps_a_sent_tlp_and_timestamp(client, auth):
    payload = incident(id=None, tlp="amber", timestamp="2025-01-10T08:06:01.123Z")
    del payload["id"]
    body = post_json(client, f"{CTIA}/incident", payload, auth).json()
    assert body["tlp"] == "amber"
    assert body["timestamp"] == "2025-01-10T08:06:01.123Z"


def test_post_refuses_an_invalid_entity_with_400_and_the_errors(client, auth):
    payload = incident(status="Investigating", incident_time={})
    del payload["id"]
    response = post_json(client, f"{CTIA}/incident", payload, auth)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(error.startswith("status:") for error in errors)
    assert any(error.startswith("incident_time.opened:") for error in errors)
    assert not CtiaEntity.objects.exists()


def test_post_with_an_id_is_forbidden(client, auth):
    response = post_json(client, f"{CTIA}/sighting", sighting(), auth)  # carries transient:sighting-1
    assert response.status_code == 403
    assert response.json()["error"] == "Missing capability to specify entity ID"
    assert not CtiaEntity.objects.exists()


def test_post_validates_before_checking_the_id_capability(client, auth):
    response = post_json(client, f"{CTIA}/sighting", sighting(observed_time=None), auth)
    assert response.status_code == 400


def test_post_relationship_with_transient_refs_is_refused(client, auth):
    response = post_json(client, f"{CTIA}/relationship", relationship(), auth)
    assert response.status_code == 400
    assert any("only resolved inside a bundle" in error for error in response.json()["errors"])


def test_post_refuses_malformed_json(client, auth):
    response = client.post(f"{CTIA}/sighting", data="{", content_type="application/json", headers=auth)
    assert response.status_code == 400


def test_post_to_an_unknown_entity_type_is_404(client, auth):
    assert post_json(client, f"{CTIA}/judgement", {}, auth).status_code == 404


# --- reads -------------------------------------------------------------------------------------------------------


def test_get_by_short_or_long_id(client, auth):
    payload = sighting()
    del payload["id"]
    created = post_json(client, f"{CTIA}/sighting", payload, auth).json()
    short = ctim.short_id(created["id"])
    assert client.get(f"{CTIA}/sighting/{short}", headers=auth).json() == created
    assert client.get(f"{CTIA}/sighting/{created['id']}", headers=auth).json() == created


def test_get_by_long_id_ignores_the_host_it_names(client, auth):
    created = import_bundle(client, bundle(sightings=[sighting()]), auth)[0]["id"]
    elsewhere = "https://private.intel.amp.cisco.com:443/ctia/sighting/" + ctim.short_id(created)
    assert client.get(f"{CTIA}/sighting/{elsewhere}", headers=auth).json()["id"] == created


def test_get_unknown_or_mistyped_ids_is_404(client, auth):
    created = import_bundle(client, bundle(sightings=[sighting()]), auth)[0]["id"]
    short = ctim.short_id(created)
    assert client.get(f"{CTIA}/incident/{short}", headers=auth).status_code == 404
    assert client.get(f"{CTIA}/sighting/sighting-00000000-0000-0000-0000-000000000000", headers=auth).status_code == 404
    assert client.get(f"{CTIA}/sighting/not-an-id", headers=auth).status_code == 404


def test_get_by_external_id_lists_every_match(client, auth):
    import_bundle(
        client, bundle(sightings=[sighting(1, external_ids=["dup"]), sighting(2, external_ids=["dup", "x"])]), auth
    )
    import_bundle(client, bundle(incidents=[incident(external_ids=["dup"])]), auth)
    response = client.get(f"{CTIA}/sighting/external_id/dup", headers=auth)
    assert response.status_code == 200
    assert [body["title"] for body in response.json()] == ["IDS alert 1", "IDS alert 2"]
    assert [body["title"] for body in client.get(f"{CTIA}/sighting/external_id/x", headers=auth).json()] == [
        "IDS alert 2"
    ]
    assert client.get(f"{CTIA}/sighting/external_id/nothing", headers=auth).json() == []


def test_get_by_external_id_does_not_match_substrings(client, auth):
    import_bundle(client, bundle(sightings=[sighting(external_ids=["mi-sighting-10"])]), auth)
    assert client.get(f"{CTIA}/sighting/external_id/mi-sighting-1", headers=auth).json() == []


def test_reads_need_a_token(client, auth):
    assert client.get(f"{CTIA}/sighting/external_id/x").status_code == 401
    assert client.get(f"{CTIA}/sighting/sighting-00000000-0000-0000-0000-000000000000").status_code == 401


# --- faults ------------------------------------------------------------------------------------------------------


def test_server_error_fault_answers_500_once(client, auth):
    fault("server_error")
    assert client.get(f"{CTIA}/sighting/external_id/x", headers=auth).status_code == 500
    assert client.get(f"{CTIA}/sighting/external_id/x", headers=auth).status_code == 200


def test_rate_limit_fault_answers_429_with_retry_after(client, auth):
    fault("rate_limit", retry_after=7)
    response = post_json(client, f"{CTIA}/bundle/import", bundle(sightings=[sighting()]), auth)
    assert response.status_code == 429
    assert response["Retry-After"] == "7"
    assert response.json() == {"error": "Too Many Requests"}
    assert not CtiaEntity.objects.exists()


def test_slow_fault_delays_then_answers(client, auth, monkeypatch):
    slept = []
    monkeypatch.setattr(views.time, "sleep", slept.append)
    fault("slow", delay_seconds=2.5)
    assert client.get(f"{CTIA}/sighting/external_id/x", headers=auth).status_code == 200
    assert slept == [2.5]


def test_fault_fires_after_its_skipped_requests(client, auth):
    fault("server_error", skip=1, remaining=2)
    statuses = [client.get(f"{CTIA}/sighting/external_id/x", headers=auth).status_code for _ in range(4)]
    assert statuses == [200, 500, 500, 200]
    assert SimulatedFault.objects.get().fired == 2


def test_faults_apply_to_the_token_endpoint(client, api_client):
    fault("rate_limit", retry_after=3)
    response = request_token(client)
    assert response.status_code == 429
    assert response["Retry-After"] == "3"
    assert request_token(client).status_code == 200


def test_faults_of_other_apis_do_not_fire(client, auth):
    SimulatedFault.objects.create(api=SimulatedFault.Api.WEBEX, kind="server_error")
    assert client.get(f"{CTIA}/sighting/external_id/x", headers=auth).status_code == 200


def test_simulator_latency_delays_every_answer(client, auth, settings, monkeypatch):
    slept = []
    monkeypatch.setattr(views.time, "sleep", slept.append)
    settings.SIMULATOR_LATENCY = 0.25
    client.get(f"{CTIA}/sighting/external_id/x", headers=auth)
    assert slept == [0.25]


# --- store, without HTTP ------------------------------------------------------------------------------------------


def test_store_import_is_usable_without_http(api_client):
    base = "http://sim.example:8000/simulator/threatresponse/ctia"
    results = store.import_bundle(bundle=bundle(sightings=[sighting()]), client_id=CLIENT_ID, ctia_base=base)
    assert results[0]["id"].startswith(f"{base}/sighting/sighting-")
    assert store.get_entity(entity_type="sighting", entity_id=results[0]["id"]).body["title"] == "IDS alert 1"


def test_store_find_by_external_id_works_on_every_database(api_client):
    base = "http://testserver/simulator/threatresponse/ctia"
    store.import_bundle(
        bundle=bundle(sightings=[sighting(external_ids=["a", "b"])]), client_id=CLIENT_ID, ctia_base=base
    )
    assert len(store.find_by_external_id(entity_type="sighting", external_id="b")) == 1
    assert store.find_by_external_id(entity_type="sighting", external_id="c") == []
    assert store.find_by_external_id(entity_type="incident", external_id="a") == []
