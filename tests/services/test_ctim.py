import dataclasses
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.models import SecurityEvent
from sync.services.ctim import (
    CTIA_BUNDLE_MAX_ENTITIES,
    CTIM_SOURCE,
    DEFAULT_BUNDLE_MAX_ENTITIES,
    EventEntities,
    build_bundles,
    build_event_entities,
    external_id,
    promotion_title,
)
from sync.services.normalize import normalize_event

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
OFFICIAL_EVENTS = json.loads((FIXTURES / "meraki" / "official_example_events.json").read_text())
VOCABULARIES = json.loads(
    (Path(__file__).resolve().parents[2] / "sync" / "simulator" / "data" / "ctim-vocabularies.json").read_text()
)
FILE_SCANNED, IDS_PRIORITY_2, IDS_PRIORITY_1 = OFFICIAL_EVENTS

ORG_KEY = "api.meraki.com|549236"
PROMOTED_AT = datetime(2025, 1, 10, 8, 6, tzinfo=UTC)
EVENT_URL = "https://incidents.example.com/events/42/"
HUGE = 100_000
XID_RE = re.compile(r"meraki-incidents-(sighting|incident|relationship)-[0-9a-f]{64}")


def security_event(raw: dict, **changes: object) -> SecurityEvent:
    """An unsaved SecurityEvent as ingest stores it: the raw event normalized, then fields replaced."""
    normalized = normalize_event(raw)
    fields = {field.name: getattr(normalized, field.name) for field in dataclasses.fields(normalized)}
    return SecurityEvent(**{**fields, **changes})


def entities_of(event: SecurityEvent, *, organization_key: str = ORG_KEY, event_url: str = EVENT_URL) -> EventEntities:
    return build_event_entities(event, organization_key=organization_key, event_url=event_url, promoted_at=PROMOTED_AT)


def objects(entities: EventEntities) -> dict[str, dict]:
    return {"sighting": entities.sighting, "incident": entities.incident, "relationship": entities.relationship}


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def hostile_event(filler: str = "A") -> SecurityEvent:
    """Every text field 100 kB long and full of markdown, as an unsaved event could hold (the columns cut less)."""
    text = (filler * HUGE)[:HUGE]
    return security_event(
        FILE_SCANNED,
        event_type=text,
        message="*_[x](javascript:alert(1))_* <script>`" + text,
        uri="http://evil.example/" + text,
        canonical_name=text,
        client_name=text,
        rule_id=text,
        action=text,
        src_ip=text,
    )


def distinct_events(count: int) -> list[SecurityEvent]:
    """IDS alerts one second apart: each has its own fingerprint, so its own external ids."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [security_event({**IDS_PRIORITY_1, "ts": (start + timedelta(seconds=i)).isoformat()}) for i in range(count)]


def bundle_entities(bundle: dict) -> list[dict]:
    return [entity for key in ("sightings", "incidents", "relationships") for entity in bundle[key]]


@pytest.fixture
def ctim_validator():
    """The simulator's CTIM validator (a cross-check written apart from the builder)."""
    return pytest.importorskip("sync.simulator.threatresponse.ctim")


@pytest.fixture
def validate(ctim_validator):
    """Errors of a sighting, incident or relationship payload; [] when valid."""
    return ctim_validator.validate


@pytest.mark.parametrize(
    ("golden", "raw"),
    [("file_scanned_malicious.json", FILE_SCANNED), ("ids_alert_priority_1.json", IDS_PRIORITY_1)],
)
def test_official_examples_build_the_golden_entities(golden, raw, validate):
    expected = json.loads((FIXTURES / "ctim" / golden).read_text())
    event_url = expected["_inputs"]["event_url"]

    entities = entities_of(security_event(raw), event_url=event_url)

    assert objects(entities) == {key: expected[key] for key in ("sighting", "incident", "relationship")}
    for entity_type, entity in objects(entities).items():
        assert validate(entity_type, entity) == []


def test_external_ids_are_those_the_objects_carry():
    entities = entities_of(security_event(IDS_PRIORITY_1))

    assert entities.sighting["external_ids"] == [entities.sighting_external_id]
    assert entities.incident["external_ids"] == [entities.incident_external_id]
    assert entities.relationship["external_ids"] == [entities.relationship_external_id]
    assert (
        entities.relationship["source_ref"] == entities.sighting["id"] == f"transient:{entities.sighting_external_id}"
    )
    assert (
        entities.relationship["target_ref"] == entities.incident["id"] == f"transient:{entities.incident_external_id}"
    )


def test_external_id_is_the_documented_hash_of_organization_fingerprint_and_type():
    digest = hashlib.sha256(b"org-a|abc123|incident").hexdigest()

    assert external_id(entity_type="incident", organization_key="org-a", fingerprint="abc123") == (
        f"meraki-incidents-incident-{digest}"
    )


def test_same_event_and_organization_give_the_same_external_ids_on_a_rerun():
    first = entities_of(security_event(IDS_PRIORITY_1))
    again = entities_of(security_event(IDS_PRIORITY_1))

    assert again == first
    assert all(XID_RE.fullmatch(xid) for _, xid, _ in first.parts)


def test_another_organization_gives_other_external_ids():
    ours = entities_of(security_event(IDS_PRIORITY_1))
    theirs = entities_of(security_event(IDS_PRIORITY_1), organization_key="api.meraki.com|999999")

    assert {xid for _, xid, _ in ours.parts}.isdisjoint(xid for _, xid, _ in theirs.parts)


def test_another_event_gives_other_external_ids():
    one = entities_of(security_event(IDS_PRIORITY_1))
    other = entities_of(security_event(IDS_PRIORITY_2))

    assert {xid for _, xid, _ in one.parts}.isdisjoint(xid for _, xid, _ in other.parts)


def test_external_id_refuses_an_empty_organization_key_or_fingerprint():
    with pytest.raises(ValueError, match="organization key"):
        external_id(entity_type="sighting", organization_key="", fingerprint="abc")
    with pytest.raises(ValueError, match="fingerprint"):
        external_id(entity_type="sighting", organization_key="org", fingerprint="")


def test_ipv6_source_becomes_an_ipv6_observable_without_port():
    event = security_event({**IDS_PRIORITY_1, "srcIp": "[2001:DB8::1]:443", "destIp": "2001:db8:0:0::2"})

    sighting = entities_of(event).sighting

    assert sighting["observables"] == [
        {"type": "ipv6", "value": "2001:db8::1"},
        {"type": "ipv6", "value": "2001:db8::2"},
    ]
    assert "Meraki Security Event: IDS Alert Priority 1 for 2001:db8::1 @ " in sighting["title"]


def test_ipv6_client_becomes_an_ipv6_target_observable():
    event = security_event(FILE_SCANNED, client_ip="2001:db8::7", client_mac="", client_name="")

    assert entities_of(event).sighting["targets"][0]["observables"] == [{"type": "ipv6", "value": "2001:db8::7"}]


def test_missing_fields_give_no_empty_observables_and_no_target(validate):
    event = security_event({"ts": IDS_PRIORITY_1["ts"], "eventType": "IDS Alert"})

    sighting = entities_of(event).sighting

    assert "observables" not in sighting
    assert "targets" not in sighting
    assert "short_description" not in sighting
    assert sighting["title"] == "Meraki Security Event: IDS Alert for unknown source @ 2018-02-11T00:00:00.090210Z"
    assert validate("sighting", sighting) == []


def test_no_observable_has_an_empty_value_whatever_is_missing():
    for key in ("srcIp", "destIp", "fileHash", "uri", "clientIp", "clientMac", "clientName"):
        sighting = entities_of(security_event({**FILE_SCANNED, key: ""})).sighting
        observables = sighting.get("observables", []) + [
            observable for target in sighting.get("targets", []) for observable in target["observables"]
        ]
        assert observables, key
        assert all(observable["value"].strip() for observable in observables), key


def test_invalid_values_give_no_observable():
    event = security_event(FILE_SCANNED, src_ip="not-an-ip", file_hash="zz" * 32, uri="http://host/dir/")

    types = [observable["type"] for observable in entities_of(event).sighting["observables"]]

    assert types == ["ip", "url"]  # destination IP and the URL; the path names no file


def test_file_name_is_the_percent_decoded_last_segment_of_the_uri_path():
    event = security_event(FILE_SCANNED, uri="https://cdn.example/a/b/My%20Setup.exe?download=1#x")

    observables = entities_of(event).sighting["observables"]

    assert {"type": "file_name", "value": "My Setup.exe"} in observables


@pytest.mark.parametrize(
    ("changes", "label"),
    [
        ({"eventType": "IDS Alert", "priority": "1"}, "IDS Alert Priority 1"),
        ({"eventType": "IDS Alert", "priority": "3"}, "IDS Alert Priority 3"),
        ({"eventType": "File Scanned", "disposition": "Malicious"}, "Malware Downloaded"),
        ({"eventType": "Malware Downloaded"}, "Malware Downloaded"),
        ({"eventType": "File Scanned", "disposition": "Clean"}, "File Scanned"),
        ({"eventType": "Malware Blocked"}, "Malware Blocked"),
    ],
)
def test_title_names_the_event_as_the_securex_workflow_did(changes, label):
    event = security_event({**FILE_SCANNED, **changes})

    assert promotion_title(event) == f"Meraki Security Event: {label} for 192.168.128.2 @ 2020-03-20T16:00:10.144989Z"


def test_event_without_time_is_placed_when_promoted_and_titled_unknown(validate):
    event = security_event({**IDS_PRIORITY_1, "ts": None})

    entities = entities_of(event)

    assert entities.sighting["title"].endswith("@ unknown time")
    assert entities.sighting["observed_time"] == {"start_time": "2025-01-10T08:06:00.000Z"}
    assert validate("sighting", entities.sighting) == []


def test_every_vocabulary_value_is_valid():
    events = [
        security_event(raw) for raw in (FILE_SCANNED, IDS_PRIORITY_1, {**IDS_PRIORITY_2, "srcIp": "[2001:db8::1]:1"})
    ]
    for entities in map(entities_of, [*events, hostile_event()]):
        sighting, incident, relationship = entities.sighting, entities.incident, entities.relationship
        for entity in (sighting, incident, relationship):
            assert entity["tlp"] in VOCABULARIES["tlp"]
            assert entity["tlp"] != "white"  # below OSS CTIA's minimum TLP
        for entity in (sighting, incident):
            assert entity["confidence"] in VOCABULARIES["confidence_HighMedLow"]
            assert entity["severity"] in VOCABULARIES["severity"]
        assert incident["status"] in VOCABULARIES["incident_status"]
        assert relationship["relationship_type"] in VOCABULARIES["relationship_type"]
        assert sighting["sensor"] in VOCABULARIES["sensor"]
        assert sighting["resolution"] in VOCABULARIES["sighting_resolution"]
        for target in sighting.get("targets", []):
            assert target["type"] in VOCABULARIES["sensor"]
            assert all(observable["type"] in VOCABULARIES["observable_types"] for observable in target["observables"])
        assert all(observable["type"] in VOCABULARIES["observable_types"] for observable in sighting["observables"])


@pytest.mark.parametrize("filler", ["A", "é", "🦠", "*"])
def test_hostile_100kb_fields_stay_within_ctim_limits(filler, validate):
    entities = entities_of(hostile_event(filler), event_url="https://incidents.example.com/events/" + "9" * HUGE)

    for entity_type, entity in objects(entities).items():
        for key, limit in (("title", 1024), ("short_description", 2048), ("description", 5000), ("source_uri", 2048)):
            if key in entity:
                assert utf16_length(entity[key]) <= limit, (entity_type, key)
        assert validate(entity_type, entity) == []
    sighting = entities.sighting
    assert sighting["title"].endswith("…")
    assert sighting["description"].endswith("…")
    assert sighting["source_uri"].endswith("…")
    # Over-long values are dropped as observables, not cut into false indicators.
    assert all(len(observable["value"]) <= 2048 for observable in sighting["observables"])
    assert {observable["type"] for observable in sighting["observables"]} == {"ip", "sha256"}


def test_description_keeps_the_event_link_when_the_details_are_cut():
    entities = entities_of(hostile_event())

    assert entities.incident["description"].endswith(f"[Open the event in meraki-incidents]({EVENT_URL})")
    assert "…" in entities.incident["description"]


def test_description_escapes_markdown_from_the_network():
    event = security_event(
        IDS_PRIORITY_1,
        message="*bold* _it_ [link](http://evil.example) `code` <script>alert(1)</script>",
        rule_id="rule|~x~",
    )

    description = entities_of(event).sighting["description"]

    assert (
        "**Message:** \\*bold\\* \\_it\\_ \\[link\\]\\(http://evil.example\\) \\`code\\` "
        "\\<script\\>alert\\(1\\)\\</script\\>"
    ) in description
    assert "**Meraki rule ID:** rule\\|\\~x\\~" in description


def test_description_values_cannot_start_their_own_markdown_block():
    event = security_event(IDS_PRIORITY_1, message="first\n\n# Heading\r\n- item")

    description = entities_of(event).sighting["description"]

    assert "**Message:** first # Heading - item" in description


def test_bundles_stay_under_the_limit_and_keep_each_event_together(ctim_validator):
    all_entities = [entities_of(event) for event in distinct_events(1000)]

    bundles = list(build_bundles(all_entities, max_entities=600))

    assert len(bundles) >= 2
    for bundle in bundles:
        assert bundle["type"] == "bundle"
        assert bundle["source"] == CTIM_SOURCE
        assert len(bundle_entities(bundle)) <= 600
        ids = {entity["id"] for key in ("sightings", "incidents") for entity in bundle[key]}
        assert all({rel["source_ref"], rel["target_ref"]} <= ids for rel in bundle["relationships"])
        assert ctim_validator.validate_bundle(bundle) == []
    sent = [entity["external_ids"][0] for bundle in bundles for entity in bundle_entities(bundle)]
    assert sorted(sent) == sorted(xid for entities in all_entities for _, xid, _ in entities.parts)


def test_default_bundle_size_is_under_ctias_limit():
    bundles = list(build_bundles(entities_of(event) for event in distinct_events(1200)))

    assert DEFAULT_BUNDLE_MAX_ENTITIES < CTIA_BUNDLE_MAX_ENTITIES
    assert [len(bundle_entities(bundle)) for bundle in bundles] == [1500, 1500, 600]


def test_bundle_holds_each_external_id_once():
    first, second = entities_of(security_event(FILE_SCANNED)), entities_of(security_event(IDS_PRIORITY_1))

    (bundle,) = build_bundles([first, second, first, entities_of(security_event(FILE_SCANNED))])

    external_ids = [entity["external_ids"][0] for entity in bundle_entities(bundle)]
    assert len(external_ids) == len(set(external_ids)) == 6


def test_external_id_sent_in_an_earlier_bundle_is_not_sent_again():
    events = [entities_of(event) for event in distinct_events(3)]

    bundles = list(build_bundles([*events, events[0]], max_entities=3))

    assert len(bundles) == 3


def test_no_events_give_no_bundle():
    assert list(build_bundles([])) == []


@pytest.mark.parametrize("max_entities", [0, 2, CTIA_BUNDLE_MAX_ENTITIES + 1])
def test_bundle_size_outside_what_ctia_takes_is_refused(max_entities):
    with pytest.raises(ValueError, match="max_entities"):
        list(build_bundles([], max_entities=max_entities))
