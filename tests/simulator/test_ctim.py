"""CTIM validation of the simulated Threat Response: what CTIA's schemas accept and refuse."""

import copy

import pytest

from sync.simulator.threatresponse import ctim

LONG_SIGHTING_ID = "https://private.intel.amp.cisco.com:443/ctia/sighting/sighting-5fe3d6a4-1b2c-4d5e-8f90-0123456789ab"
LONG_INCIDENT_ID = "https://private.intel.amp.cisco.com/ctia/incident/incident-0a55b5e4-1b2c-4d5e-8f90-0123456789ab"


def sighting(**changes) -> dict:
    """The notes' full sighting example; `changes` override keys (a value of None removes the key)."""
    body = {
        "type": "sighting",
        "source": "meraki-incidents",
        "source_uri": "https://example.internal/case/42",
        "external_ids": ["myorg-sighting-94341c"],
        "title": "Beaconing to known C2",
        "confidence": "High",
        "severity": "High",
        "tlp": "amber",
        "count": 3,
        "observed_time": {"start_time": "2025-01-10T08:00:00.000Z", "end_time": "2025-01-10T08:05:00.000Z"},
        "observables": [{"type": "ip", "value": "203.0.113.7"}],
        "targets": [
            {
                "type": "endpoint",
                "observables": [{"type": "hostname", "value": "ws-17"}, {"type": "ip", "value": "10.1.2.3"}],
                "observed_time": {"start_time": "2025-01-10T08:00:00.000Z"},
            }
        ],
    }
    return _apply(body, changes)


def incident(**changes) -> dict:
    body = {
        "type": "incident",
        "source": "meraki-incidents",
        "external_ids": ["myorg-incident-1f2e"],
        "title": "C2 beaconing on ws-17",
        "description": "Promoted from alert cluster 42",
        "confidence": "High",
        "severity": "High",
        "status": "New",
        "tlp": "amber",
        "incident_time": {"opened": "2025-01-10T08:06:00.000Z", "discovered": "2025-01-10T08:05:00.000Z"},
    }
    return _apply(body, changes)


def relationship(**changes) -> dict:
    body = {
        "type": "relationship",
        "source": "meraki-incidents",
        "external_ids": ["myorg-relationship-77aa"],
        "relationship_type": "member-of",
        "source_ref": LONG_SIGHTING_ID,
        "target_ref": LONG_INCIDENT_ID,
    }
    return _apply(body, changes)


def _apply(body: dict, changes: dict) -> dict:
    body = copy.deepcopy(body)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def assert_one_error(errors: list[str], path: str, fragment: str = "") -> None:
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}: "), errors
    assert fragment in errors[0], errors


# --- valid entities ----------------------------------------------------------------------------------------------


def test_full_examples_from_the_notes_are_valid():
    assert ctim.validate_sighting(sighting()) == []
    assert ctim.validate_incident(incident()) == []
    assert ctim.validate_relationship(relationship()) == []


def test_minimal_sighting_needs_only_observed_time():
    assert ctim.validate_sighting({"observed_time": {"start_time": "2025-01-10T08:00:00Z"}}) == []


def test_minimal_incident_needs_confidence_status_and_opened():
    body = {"confidence": "Low", "status": "Open", "incident_time": {"opened": "2025-01-10T08:00:00Z"}}
    assert ctim.validate_incident(body) == []


def test_minimal_relationship_needs_type_and_refs():
    body = {"relationship_type": "related-to", "source_ref": "transient:s1", "target_ref": "transient:i1"}
    assert ctim.validate_relationship(body) == []


def test_validate_dispatches_on_type():
    assert ctim.validate("sighting", sighting()) == []
    assert ctim.validate("incident", incident()) == []
    assert ctim.validate("relationship", relationship()) == []


def test_validate_refuses_an_unsupported_type():
    errors = ctim.validate("judgement", {})
    assert len(errors) == 1
    assert "'judgement' is not supported" in errors[0]


@pytest.mark.parametrize("entity_type", ["sighting", "incident", "relationship"])
@pytest.mark.parametrize("payload", [[], "x", None, 3])
def test_an_entity_must_be_an_object(entity_type, payload):
    errors = ctim.validate(entity_type, payload)
    assert len(errors) == 1
    assert "must be a JSON object" in errors[0]


def test_optional_sighting_fields_are_accepted():
    body = sighting(
        internal=True,
        resolution="blocked",
        sensor="network.firewall",
        sensor_coordinates={"type": "network.firewall", "observables": [{"type": "mac_address", "value": "00:18"}]},
        relations=[
            {
                "origin": "Meraki MX",
                "origin_uri": "https://n1.meraki.com/",
                "relation": "Connected_To",
                "relation_info": {"port": 443},
                "source": {"type": "ip", "value": "10.1.2.3"},
                "related": {"type": "ip", "value": "203.0.113.7"},
            }
        ],
        data={"columns": [{"name": "port", "type": "integer"}], "rows": [[443]], "row_count": 1},
        context=[{"event_type": "endpoint.netflow_out_event"}],
        detection_interval={"start_time": "2025-01-10T08:00:00Z", "end_time": "2025-01-10T08:01:00Z"},
        external_references=[{"source_name": "Meraki", "url": "https://n1.meraki.com/x", "hashes": ["ab"]}],
        short_description="short",
        description="**markdown**",
        language="en",
        revision=2,
        timestamp="2025-01-10T08:06:00.000Z",
        uri="https://example.internal/sighting/1",
    )
    assert ctim.validate_sighting(body) == []


def test_optional_incident_fields_are_accepted():
    body = incident(
        categories=["Malicious Code", "Anything Goes In An Open Vocabulary"],
        discovery_method="NIDS",
        assignees=["analyst@example.com"],
        scores={"asset": 10, "ttp": 2.5},
        tactics=["TA0011"],
        techniques=["T1071"],
        promotion_method="Automated",
        detection_sources=["Meraki MX"],
        intended_effect="Theft",
        meta={"org": "1"},
        incident_time={key: "2025-01-10T08:06:00Z" for key in ctim.INCIDENT_TIME_KEYS},
    )
    assert ctim.validate_incident(body) == []


# --- times -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["2025-01-10T08:00:00.000Z", "2025-01-10T08:00:00Z", "2025-01-10T10:00:00+02:00", "2025-01-10T08:00:00.123456Z"],
)
def test_iso_times_with_a_zone_are_accepted(value):
    assert ctim.parse_time(value) is not None
    assert ctim.validate_sighting(sighting(observed_time={"start_time": value})) == []


@pytest.mark.parametrize(
    "value", ["2025-01-10T08:00:00", "2025-01-10", "yesterday", "", 1736496000, "2025-13-10T08:00:00Z"]
)
def test_times_without_zone_or_not_iso_are_refused(value):
    assert ctim.parse_time(value) is None
    errors = ctim.validate_sighting(sighting(observed_time={"start_time": value}))
    assert_one_error(errors, "observed_time.start_time", "ISO 8601")


def test_offsets_compare_as_instants():
    # 09:30+02:00 is 07:30Z, before the start.
    errors = ctim.validate_sighting(
        sighting(observed_time={"start_time": "2025-01-10T08:00:00Z", "end_time": "2025-01-10T09:30:00+02:00"})
    )
    assert_one_error(errors, "observed_time.end_time", "before start_time")


def test_end_time_equal_to_start_time_is_valid():
    moment = "2025-01-10T08:00:00Z"
    assert ctim.validate_sighting(sighting(observed_time={"start_time": moment, "end_time": moment})) == []


# --- sighting ----------------------------------------------------------------------------------------------------


def test_sighting_without_observed_time_is_refused():
    assert_one_error(ctim.validate_sighting(sighting(observed_time=None)), "observed_time", "required")


def test_observed_time_without_start_time_is_refused():
    errors = ctim.validate_sighting(sighting(observed_time={"end_time": "2025-01-10T08:00:00Z"}))
    assert_one_error(errors, "observed_time.start_time", "required")


def test_observed_time_must_be_an_object():
    assert_one_error(ctim.validate_sighting(sighting(observed_time="2025-01-10T08:00:00Z")), "observed_time", "object")


def test_observed_time_is_closed():
    errors = ctim.validate_sighting(sighting(observed_time={"start_time": "2025-01-10T08:00:00Z", "duration": 3}))
    assert_one_error(errors, "observed_time.duration", "unknown key")


@pytest.mark.parametrize("count", [0, 1, 10_000])
def test_count_accepts_non_negative_integers(count):
    assert ctim.validate_sighting(sighting(count=count)) == []


@pytest.mark.parametrize(
    ("count", "fragment"), [(-1, "at least 0"), (1.5, "integer"), ("3", "integer"), (True, "integer")]
)
def test_count_refuses_negative_and_non_integers(count, fragment):
    assert_one_error(ctim.validate_sighting(sighting(count=count)), "count", fragment)


@pytest.mark.parametrize("value", sorted(ctim.CONFIDENCES))
def test_every_confidence_of_the_vocabulary_is_accepted(value):
    assert ctim.validate_sighting(sighting(confidence=value)) == []


@pytest.mark.parametrize("value", ["high", "Critical", "", None, 3])
def test_confidence_outside_the_vocabulary_is_refused(value):
    body = sighting()
    body["confidence"] = value
    assert_one_error(ctim.validate_sighting(body), "confidence", "not a valid confidence")


@pytest.mark.parametrize("value", sorted(ctim.SEVERITIES))
def test_every_severity_of_the_vocabulary_is_accepted(value):
    assert ctim.validate_sighting(sighting(severity=value)) == []
    assert ctim.validate_incident(incident(severity=value)) == []


@pytest.mark.parametrize("value", ["critical", "Severe", 5])
def test_severity_outside_the_vocabulary_is_refused(value):
    assert_one_error(ctim.validate_sighting(sighting(severity=value)), "severity", "not a valid severity")
    assert_one_error(ctim.validate_incident(incident(severity=value)), "severity", "not a valid severity")


@pytest.mark.parametrize("value", sorted(ctim.SIGHTING_RESOLUTIONS))
def test_every_resolution_is_accepted(value):
    assert ctim.validate_sighting(sighting(resolution=value)) == []


def test_resolution_outside_the_vocabulary_is_refused():
    assert_one_error(ctim.validate_sighting(sighting(resolution="dropped")), "resolution", "not a valid resolution")


def test_internal_must_be_a_boolean():
    assert_one_error(ctim.validate_sighting(sighting(internal="yes")), "internal", "true or false")


def test_sensor_must_be_in_the_vocabulary():
    assert_one_error(ctim.validate_sighting(sighting(sensor="firewall")), "sensor", "not a valid sensor")


@pytest.mark.parametrize("observable_type", ["ip", "ipv6", "domain", "url", "hostname", "mac_address", "sha256"])
def test_common_observable_types_are_accepted(observable_type):
    body = sighting(observables=[{"type": observable_type, "value": "x"}])
    assert ctim.validate_sighting(body) == []


def test_observables_must_be_a_list():
    assert_one_error(ctim.validate_sighting(sighting(observables={"type": "ip"})), "observables", "list")


@pytest.mark.parametrize(
    ("observable", "path", "fragment"),
    [
        ({"type": "ipaddress", "value": "1.2.3.4"}, "observables[0].type", "not a valid observable type"),
        ({"type": "ip", "value": ""}, "observables[0].value", "must not be empty"),
        ({"type": "ip", "value": "   "}, "observables[0].value", "must not be empty"),
        ({"type": "ip", "value": 1234}, "observables[0].value", "must be a string"),
        ({"value": "1.2.3.4"}, "observables[0].type", "required"),
        ({"type": "ip"}, "observables[0].value", "required"),
        ({"type": "ip", "value": "1.2.3.4", "port": 80}, "observables[0].port", "unknown key"),
        ("1.2.3.4", "observables[0]", "JSON object"),
    ],
)
def test_invalid_observables_are_refused_with_their_path(observable, path, fragment):
    assert_one_error(ctim.validate_sighting(sighting(observables=[observable])), path, fragment)


def test_the_index_of_the_invalid_observable_is_reported():
    body = sighting(observables=[{"type": "ip", "value": "1.2.3.4"}, {"type": "bogus", "value": "x"}])
    assert_one_error(ctim.validate_sighting(body), "observables[1].type")


@pytest.mark.parametrize(
    ("target", "path", "fragment"),
    [
        ({"type": "workstation", "observables": [], "observed_time": {"start_time": "2025-01-10T08:00:00Z"}},
         "targets[0].type", "not a valid sensor"),
        ({"observables": [], "observed_time": {"start_time": "2025-01-10T08:00:00Z"}}, "targets[0].type", "required"),
        ({"type": "endpoint", "observed_time": {"start_time": "2025-01-10T08:00:00Z"}},
         "targets[0].observables", "required"),
        ({"type": "endpoint", "observables": []}, "targets[0].observed_time", "required"),
        ({"type": "endpoint", "observables": [{"type": "ip", "value": ""}],
          "observed_time": {"start_time": "2025-01-10T08:00:00Z"}}, "targets[0].observables[0].value", "empty"),
        ({"type": "endpoint", "observables": [], "observed_time": {"start_time": "2025-01-10 08:00"}},
         "targets[0].observed_time.start_time", "ISO 8601"),
        ({"type": "endpoint", "observables": [], "observed_time": {"start_time": "2025-01-10T08:00:00Z"}, "name": "x"},
         "targets[0].name", "unknown key"),
    ],
)  # fmt: skip
def test_invalid_targets_are_refused_with_their_path(target, path, fragment):
    assert_one_error(ctim.validate_sighting(sighting(targets=[target])), path, fragment)


def test_target_may_name_its_os():
    target = {"type": "endpoint.laptop", "observables": [], "observed_time": {"start_time": "2025-01-10T08:00:00Z"}}
    assert ctim.validate_sighting(sighting(targets=[{**target, "os": "Windows 11"}])) == []


def test_sensor_coordinates_take_no_observed_time():
    coordinates = {"type": "network.firewall", "observables": [], "observed_time": {"start_time": "2025-01-10T08:00Z"}}
    errors = ctim.validate_sighting(sighting(sensor_coordinates=coordinates))
    assert_one_error(errors, "sensor_coordinates.observed_time", "unknown key")


def test_relation_needs_its_observables():
    relation = {"origin": "Meraki", "relation": "Connected_To", "source": {"type": "ip", "value": "10.0.0.1"}}
    assert_one_error(ctim.validate_sighting(sighting(relations=[relation])), "relations[0].related", "required")


def test_data_table_needs_columns_and_rows():
    assert_one_error(ctim.validate_sighting(sighting(data={"columns": []})), "data.rows", "required")


# --- incident ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["confidence", "status", "incident_time"])
def test_incident_required_fields(key):
    assert_one_error(ctim.validate_incident(incident(**{key: None})), key, "required")


def test_incident_time_needs_opened():
    errors = ctim.validate_incident(incident(incident_time={"discovered": "2025-01-10T08:00:00Z"}))
    assert_one_error(errors, "incident_time.opened", "required")


@pytest.mark.parametrize("key", ctim.INCIDENT_TIME_KEYS)
def test_every_incident_time_key_must_be_iso(key):
    times = {"opened": "2025-01-10T08:00:00Z", key: "10/01/2025"}
    assert_one_error(ctim.validate_incident(incident(incident_time=times)), f"incident_time.{key}", "ISO 8601")


def test_incident_time_is_closed():
    times = {"opened": "2025-01-10T08:00:00Z", "incident_opened": "2025-01-10T08:00:00Z"}
    assert_one_error(ctim.validate_incident(incident(incident_time=times)), "incident_time.incident_opened", "unknown")


@pytest.mark.parametrize("status", sorted(ctim.INCIDENT_STATUSES))
def test_every_incident_status_is_accepted(status):
    assert ctim.validate_incident(incident(status=status)) == []


@pytest.mark.parametrize("status", ["new", "Closed:False Positive", "Investigating", ""])
def test_incident_status_outside_the_vocabulary_is_refused(status):
    assert_one_error(ctim.validate_incident(incident(status=status)), "status", "not a valid incident status")


def test_incident_confidence_must_be_in_the_vocabulary():
    assert_one_error(ctim.validate_incident(incident(confidence="Critical")), "confidence", "not a valid confidence")


def test_incident_categories_must_be_strings():
    assert_one_error(ctim.validate_incident(incident(categories=["ok", 3])), "categories[1]", "string")


@pytest.mark.parametrize("scores", [{"asset": -1}, {"asset": "high"}, {"asset": True}])
def test_incident_scores_must_be_non_negative_numbers(scores):
    assert_one_error(ctim.validate_incident(incident(scores=scores)), "scores.asset", "number >= 0")


def test_incident_refuses_sighting_fields():
    assert_one_error(ctim.validate_incident(incident(count=1)), "count", "unknown key")


# --- relationship ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["relationship_type", "source_ref", "target_ref"])
def test_relationship_required_fields(key):
    assert_one_error(ctim.validate_relationship(relationship(**{key: None})), key, "required")


@pytest.mark.parametrize("relationship_type", sorted(ctim.KNOWN_RELATIONSHIP_TYPES))
def test_known_relationship_types_are_accepted(relationship_type):
    assert ctim.validate_relationship(relationship(relationship_type=relationship_type)) == []


def test_relationship_type_is_an_open_vocabulary():
    assert ctim.validate_relationship(relationship(relationship_type="observed-with")) == []


@pytest.mark.parametrize("relationship_type", ["", "  ", 7])
def test_relationship_type_must_be_a_non_empty_string(relationship_type):
    assert_one_error(ctim.validate_relationship(relationship(relationship_type=relationship_type)), "relationship_type")


@pytest.mark.parametrize(
    "ref",
    [
        LONG_SIGHTING_ID,
        "http://testserver/simulator/threatresponse/ctia/incident/incident-0a55b5e4-1b2c-4d5e-8f90-0123456789ab",
        "http://localhost:8000/ctia/sighting/sighting-0a55b5e4-1b2c-4d5e-8f90-0123456789ab",
        "transient:myorg-sighting-1",
    ],
)
def test_refs_accept_long_and_transient_ids(ref):
    assert ctim.validate_relationship(relationship(source_ref=ref)) == []


@pytest.mark.parametrize(
    "ref",
    [
        "sighting-0a55b5e4-1b2c-4d5e-8f90-0123456789ab",  # a short id
        "https://private.intel.amp.cisco.com/ctia/sighting/0a55b5e4",
        "ftp://example.com/ctia/sighting/sighting-0a55b5e4-1b2c-4d5e-8f90-0123456789ab",
        "Transient:x",
        "https://example.com/some/page",
    ],
)
def test_refs_refuse_anything_else(ref):
    assert_one_error(ctim.validate_relationship(relationship(target_ref=ref)), "target_ref", "long id")


def test_refs_are_at_most_2048_characters():
    ref = "transient:" + "x" * 2038
    assert ctim.validate_relationship(relationship(source_ref=ref)) == []
    assert_one_error(ctim.validate_relationship(relationship(source_ref=ref + "x")), "source_ref", "at most 2048")


# --- fields every entity shares ----------------------------------------------------------------------------------

ALL_BUILDERS = [sighting, incident, relationship]


@pytest.mark.parametrize("build", ALL_BUILDERS)
def test_unknown_top_level_keys_are_refused(build):
    assert_one_error(ctim.validate(build()["type"], build(priority=1)), "priority", "unknown key")


@pytest.mark.parametrize("build", ALL_BUILDERS)
def test_type_if_sent_must_match(build):
    entity_type = build()["type"]
    other = "incident" if entity_type == "sighting" else "sighting"
    assert_one_error(ctim.validate(entity_type, build(type=other)), "type", f"must be {entity_type!r}")


@pytest.mark.parametrize("build", ALL_BUILDERS)
def test_type_may_be_left_out(build):
    assert ctim.validate(build()["type"], build(type=None)) == []


@pytest.mark.parametrize("build", ALL_BUILDERS)
def test_schema_version_must_be_ours_if_sent(build):
    entity_type = build()["type"]
    assert ctim.validate(entity_type, build(schema_version=ctim.SCHEMA_VERSION)) == []
    assert_one_error(ctim.validate(entity_type, build(schema_version="1.0.0")), "schema_version", "leave it out")


@pytest.mark.parametrize("build", ALL_BUILDERS)
@pytest.mark.parametrize("tlp", ["green", "amber", "red"])
def test_tlp_green_and_above_are_accepted(build, tlp):
    assert ctim.validate(build()["type"], build(tlp=tlp)) == []


@pytest.mark.parametrize("build", ALL_BUILDERS)
def test_tlp_white_is_below_the_oss_minimum(build):
    assert_one_error(ctim.validate(build()["type"], build(tlp="white")), "tlp", "minimum TLP 'green'")


@pytest.mark.parametrize("build", ALL_BUILDERS)
@pytest.mark.parametrize("tlp", ["AMBER", "clear", ""])
def test_tlp_outside_the_vocabulary_is_refused(build, tlp):
    assert_one_error(ctim.validate(build()["type"], build(tlp=tlp)), "tlp", "not a valid TLP")


@pytest.mark.parametrize("build", ALL_BUILDERS)
@pytest.mark.parametrize(
    ("key", "limit"), [("title", 1024), ("short_description", 2048), ("description", 5000), ("source", 2048)]
)
def test_text_length_limits(build, key, limit):
    entity_type = build()["type"]
    assert ctim.validate(entity_type, build(**{key: "x" * limit})) == []
    assert_one_error(ctim.validate(entity_type, build(**{key: "x" * (limit + 1)})), key, f"at most {limit}")


@pytest.mark.parametrize("build", ALL_BUILDERS)
def test_text_fields_must_be_strings(build):
    assert_one_error(ctim.validate(build()["type"], build(title=["a"])), "title", "string")


@pytest.mark.parametrize("build", ALL_BUILDERS)
def test_source_uri_must_be_a_uri_of_at_most_2048_characters(build):
    entity_type = build()["type"]
    assert_one_error(ctim.validate(entity_type, build(source_uri="not a uri")), "source_uri", "URI")
    too_long = "https://example.com/" + "x" * 2029
    assert_one_error(ctim.validate(entity_type, build(source_uri=too_long)), "source_uri", "at most 2048")


@pytest.mark.parametrize("build", ALL_BUILDERS)
@pytest.mark.parametrize("external_ids", ["myorg-1", ["ok", 2], [None]])
def test_external_ids_must_be_a_list_of_strings(build, external_ids):
    errors = ctim.validate(build()["type"], build(external_ids=external_ids))
    assert len(errors) == 1
    assert errors[0].startswith("external_ids")


@pytest.mark.parametrize("build", ALL_BUILDERS)
def test_timestamp_must_be_iso(build):
    assert_one_error(ctim.validate(build()["type"], build(timestamp="now")), "timestamp", "ISO 8601")


@pytest.mark.parametrize("build", ALL_BUILDERS)
def test_external_references_need_a_source_name(build):
    errors = ctim.validate(build()["type"], build(external_references=[{"url": "https://example.com/"}]))
    assert_one_error(errors, "external_references[0].source_name", "required")


def test_several_errors_are_all_reported():
    errors = ctim.validate_incident({"status": "Nope", "tlp": "white", "extra": 1})
    assert len(errors) == 5, errors  # extra, confidence, incident_time, status, tlp
    assert {error.split(":")[0] for error in errors} == {"extra", "confidence", "incident_time", "status", "tlp"}


def test_an_id_is_a_valid_field_for_the_schema():
    # Whether the caller may choose it is the server's business (403 / transient ids in bundles), not CTIM's.
    assert ctim.validate_sighting(sighting(id="transient:s1")) == []
    assert_one_error(ctim.validate_sighting(sighting(id="")), "id", "empty")


# --- ids ---------------------------------------------------------------------------------------------------------


def test_short_id_of_a_long_id():
    assert ctim.short_id(LONG_SIGHTING_ID) == "sighting-5fe3d6a4-1b2c-4d5e-8f90-0123456789ab"
    assert ctim.short_id("sighting-5fe3d6a4-1b2c-4d5e-8f90-0123456789ab") == (
        "sighting-5fe3d6a4-1b2c-4d5e-8f90-0123456789ab"
    )


def test_transient_and_long_ids_are_told_apart():
    assert ctim.is_transient_id("transient:abc") and not ctim.is_long_id("transient:abc")
    assert ctim.is_long_id(LONG_INCIDENT_ID) and not ctim.is_transient_id(LONG_INCIDENT_ID)
    assert not ctim.is_transient_id(None)


# --- bundle envelope ---------------------------------------------------------------------------------------------


def test_bundle_envelope_is_valid_with_source_and_arrays():
    bundle = {"type": "bundle", "source": "meraki-incidents", "sightings": [sighting()], "incidents": []}
    assert ctim.validate_bundle(bundle) == []


def test_bundle_needs_a_source():
    assert_one_error(ctim.validate_bundle({"sightings": []}), "source", "required")


def test_bundle_is_closed():
    assert_one_error(ctim.validate_bundle({"source": "x", "events": []}), "events", "unknown key")


def test_bundle_arrays_must_be_lists_of_objects():
    assert_one_error(ctim.validate_bundle({"source": "x", "sightings": {}}), "sightings", "list")
    assert_one_error(ctim.validate_bundle({"source": "x", "sightings": ["s"]}), "sightings[0]", "object")


def test_bundle_type_must_be_bundle():
    assert_one_error(ctim.validate_bundle({"source": "x", "type": "sighting"}), "type", "'bundle'")


def test_bundle_accepts_other_ctim_arrays_and_refs():
    bundle = {"source": "x", "judgements": [{}], "sighting_refs": [LONG_SIGHTING_ID], "valid_time": {}}
    assert ctim.validate_bundle(bundle) == []


def test_vocabularies_come_from_the_repository_copy():
    assert ctim.VOCABULARIES_PATH.parts[-3:] == ("simulator", "data", "ctim-vocabularies.json")
    assert "ip" in ctim.OBSERVABLE_TYPES
    assert len(ctim.OBSERVABLE_TYPES) == 63
