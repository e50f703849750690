import dataclasses
import hashlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync.services.normalize import FIELD_MAX_LENGTHS, NormalizedEvent, fingerprint, normalize_event

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "meraki"
OFFICIAL_EVENTS = json.loads((FIXTURES / "official_example_events.json").read_text())
EXPECTED_FIELDS = json.loads((FIXTURES / "official_example_events.expected.json").read_text())

IDS_ALERT = OFFICIAL_EVENTS[1]
TEXT_FIELD_KEYS = {
    "event_type": "eventType",
    "classification": "classification",
    "protocol": "protocol",
    "client_name": "clientName",
    "uri": "uri",
    "canonical_name": "canonicalName",
    "file_hash": "fileHash",
    "file_type": "fileType",
    "disposition": "disposition",
    "action": "action",
    "message": "message",
    "signature": "signature",
    "rule_id": "ruleId",
}


def ids_alert(**changes: object) -> dict:
    """The official IDS Alert example with some keys replaced (or removed, when the value is ``...``)."""
    event = {**IDS_ALERT, **changes}
    return {key: value for key, value in event.items() if value is not ...}


def without_raw(event: NormalizedEvent) -> dict:
    fields = {field.name: getattr(event, field.name) for field in dataclasses.fields(event)}
    del fields["raw"]
    fields["ts"] = event.ts.isoformat() if event.ts else None
    return fields


def assert_storable(value: object) -> None:
    """What PostgreSQL jsonb needs: strict JSON, encodable as UTF-8, with no NUL anywhere."""
    text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")
    assert "\x00" not in text


@pytest.mark.parametrize("index", range(len(OFFICIAL_EVENTS)))
def test_official_examples_normalize_to_golden_fields(index: int) -> None:
    event = normalize_event(OFFICIAL_EVENTS[index])

    assert without_raw(event) == EXPECTED_FIELDS[index]
    assert event.raw == OFFICIAL_EVENTS[index]


def test_fingerprint_is_sha256_of_canonical_json() -> None:
    event = {"b": [1, 2.5, None, True], "a": {"z": "ü\ud800", "y": float("nan")}}
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    assert fingerprint(event) == hashlib.sha256(canonical.encode("ascii")).hexdigest()


def test_fingerprint_ignores_key_order() -> None:
    reordered = dict(reversed(list(IDS_ALERT.items())))

    assert fingerprint(reordered) == fingerprint(IDS_ALERT)


@pytest.mark.parametrize(
    "changed",
    [
        ids_alert(priority="3"),
        ids_alert(priority=2),
        ids_alert(blocked="true"),
        ids_alert(sigSource=None),
        ids_alert(sigSource=...),
        ids_alert(extra=""),
        ids_alert(message=IDS_ALERT["message"] + " "),
        ids_alert(srcIp=["1.2.3.4:34195"]),
    ],
)
def test_fingerprint_changes_with_any_value(changed: dict) -> None:
    assert fingerprint(changed) != fingerprint(IDS_ALERT)


def test_fingerprint_is_taken_before_nul_is_replaced() -> None:
    assert fingerprint({"message": "a\x00"}) != fingerprint({"message": "a\ufffd"})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_fingerprint_hashes_non_finite_numbers_apart_from_their_string_form(value: float) -> None:
    assert fingerprint({"x": value}) != fingerprint({"x": json.dumps(value)})


def test_fingerprint_handles_nesting_as_deep_as_json_loads_allows() -> None:
    deep = json.loads("[" * 900 + "]" * 900)

    assert fingerprint(deep) == hashlib.sha256(("[" * 900 + "]" * 900).encode()).hexdigest()


def test_ipv4_with_port_is_split() -> None:
    event = normalize_event(ids_alert(srcIp="192.0.2.7:8080"))

    assert (event.src_ip, event.src_port, event.parse_error) == ("192.0.2.7", 8080, "")


def test_bracketed_ipv6_with_port_is_split() -> None:
    event = normalize_event(ids_alert(destIp="[2001:DB8:0:0::1]:443"))

    assert (event.dest_ip, event.dest_port, event.parse_error) == ("2001:db8::1", 443, "")


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("2001:db8::1", "2001:db8::1"),
        ("2001:db8::80", "2001:db8::80"),
        ("::1", "::1"),
        ("fe80::1:443", "fe80::1:443"),
    ],
)
def test_bare_ipv6_is_not_split_on_its_last_colon(value: str, address: str) -> None:
    event = normalize_event(ids_alert(srcIp=value))

    assert (event.src_ip, event.src_port, event.parse_error) == (address, None, "")


def test_bracketed_ipv6_without_port_has_no_port() -> None:
    event = normalize_event(ids_alert(srcIp="[2001:db8::1]"))

    assert (event.src_ip, event.src_port, event.parse_error) == ("2001:db8::1", None, "")


def test_ipv6_is_stored_compressed() -> None:
    event = normalize_event(ids_alert(srcIp="2001:0DB8:0000:0000:0000:0000:0000:0001"))

    assert event.src_ip == "2001:db8::1"


def test_bare_ipv4_has_no_port() -> None:
    event = normalize_event(ids_alert(srcIp="192.0.2.7"))

    assert (event.src_ip, event.src_port, event.parse_error) == ("192.0.2.7", None, "")


@pytest.mark.parametrize("value", [..., None, ""])
def test_missing_or_empty_ip_is_blank_without_error(value: object) -> None:
    event = normalize_event(ids_alert(srcIp=value, destIp=value))

    assert (event.src_ip, event.src_port, event.dest_ip, event.dest_port) == ("", None, "", None)
    assert event.parse_error == ""


@pytest.mark.parametrize(
    "value",
    [
        "not-an-ip",
        "1.2.3.4:http",
        "1.2.3.4:65536",
        "1.2.3.4:-1",
        "1.2.3.4:",
        "1.2.3.04",
        "[2001:db8::1]:99999",
        "[2001:db8::1]:",
        "[not-an-ip]:80",
        "fe80::1%eth0",
        "1.2.3.4 ",
        16909060,
        {"ip": "1.2.3.4"},
    ],
)
def test_invalid_ip_or_port_leaves_both_blank_and_is_reported(value: object) -> None:
    event = normalize_event(ids_alert(srcIp=value))

    assert (event.src_ip, event.src_port) == ("", None)
    assert event.parse_error.startswith("invalid srcIp ")


def test_invalid_ip_error_quotes_a_truncated_value() -> None:
    event = normalize_event(ids_alert(destIp="x" * 1000))

    assert event.parse_error == "invalid destIp '" + "x" * 60 + "'..."


def test_client_ip_is_validated_and_compressed() -> None:
    event = normalize_event(ids_alert(clientIp="2001:db8:0::7"))

    assert (event.client_ip, event.parse_error) == ("2001:db8::7", "")


def test_client_ip_with_a_port_is_reported() -> None:
    event = normalize_event(ids_alert(clientIp="192.0.2.7:80"))

    assert (event.client_ip, event.parse_error) == ("", "invalid clientIp '192.0.2.7:80'")


@pytest.mark.parametrize("port", [80, "80"])
def test_destination_port_is_used_when_dest_ip_has_no_port(port: object) -> None:
    event = normalize_event(ids_alert(destIp="203.0.113.9", destinationPort=port))

    assert (event.dest_ip, event.dest_port, event.parse_error) == ("203.0.113.9", 80, "")


def test_port_in_dest_ip_wins_over_destination_port() -> None:
    event = normalize_event(ids_alert(destIp="203.0.113.9:443", destinationPort=80))

    assert event.dest_port == 443


@pytest.mark.parametrize("port", [70000, -1, 80.5, "http", True])
def test_invalid_destination_port_is_reported(port: object) -> None:
    event = normalize_event(ids_alert(destIp="203.0.113.9", destinationPort=port))

    assert event.dest_port is None
    assert event.parse_error.startswith("invalid destinationPort ")


@pytest.mark.parametrize(("value", "priority"), [("1", 1), (3, 3), ("0", 0)])
def test_priority_number_or_numeric_string_becomes_int(value: object, priority: int) -> None:
    event = normalize_event(ids_alert(priority=value))

    assert (event.priority, event.parse_error) == (priority, "")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("high", "'high'"),
        ("1.5", "'1.5'"),
        (" 1", "' 1'"),
        ("-1", "'-1'"),
        ("\u0661", "'\u0661'"),  # ARABIC-INDIC DIGIT ONE: int() would accept it
        ("9" * 100, "'" + "9" * 60 + "'..."),
        (1.5, "1.5"),
        (True, "true"),
        (-3, "-3"),
        (10**20, "100000000000000000000"),
        ([1], "of type list"),
        ({"p": 1}, "of type dict"),
    ],
)
def test_invalid_priority_is_none_and_reported(value: object, shown: str) -> None:
    event = normalize_event(ids_alert(priority=value))

    assert (event.priority, event.parse_error) == (None, f"invalid priority {shown}")


@pytest.mark.parametrize("value", [..., None, ""])
def test_missing_priority_is_none_without_error(value: object) -> None:
    event = normalize_event(ids_alert(priority=value))

    assert (event.priority, event.parse_error) == (None, "")


def test_numeric_classification_is_stored_as_text() -> None:
    event = normalize_event(ids_alert(classification=33))

    assert (event.classification, event.parse_error) == ("33", "")


@pytest.mark.parametrize(
    ("value", "mac"),
    [
        ("A1:B2:C3:D4:E5:F6", "a1:b2:c3:d4:e5:f6"),
        ("a1-b2-c3-d4-e5-f6", "a1:b2:c3:d4:e5:f6"),
        ("00:18:0A:01:02:03", "00:18:0a:01:02:03"),
    ],
)
def test_mac_is_lower_cased_with_colons(value: str, mac: str) -> None:
    event = normalize_event(ids_alert(clientMac=value, deviceMac=value))

    assert (event.client_mac, event.device_mac, event.parse_error) == (mac, mac, "")


@pytest.mark.parametrize(
    "value",
    [
        "a1:b2:c3:d4:e5",
        "a1:b2:c3:d4:e5:f6:07",
        "a1:b2-c3:d4:e5:f6",
        "g1:b2:c3:d4:e5:f6",
        "a1b2c3d4e5f6",
        5,
        ["a1"],
    ],
)
def test_invalid_mac_is_blank_and_reported(value: object) -> None:
    event = normalize_event(ids_alert(deviceMac=value))

    assert event.device_mac == ""
    assert event.parse_error.startswith("invalid deviceMac ")


@pytest.mark.parametrize("value", [..., None, ""])
def test_missing_ts_is_reported(value: object) -> None:
    event = normalize_event(ids_alert(ts=value))

    assert (event.ts, event.parse_error) == (None, "missing ts")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("yesterday", "'yesterday'"),
        ("2020-13-01T00:00:00Z", "'2020-13-01T00:00:00Z'"),
        ("0001-01-01T00:00:00+01:00", "'0001-01-01T00:00:00+01:00'"),
        (1e300, "1e+300"),
        (True, "true"),
        ({"ts": 1}, "of type dict"),
    ],
)
def test_malformed_ts_is_none_and_reported(value: object, shown: str) -> None:
    event = normalize_event(ids_alert(ts=value))

    assert (event.ts, event.parse_error) == (None, f"malformed ts {shown}")


def test_ts_with_nul_is_malformed_although_fromisoformat_stops_at_the_nul() -> None:
    event = normalize_event(ids_alert(ts="2020-03-20T16:00:10Z\x00junk"))

    assert event.ts is None
    assert "malformed ts '2020-03-20T16:00:10Z\\x00junk'" in event.parse_error.split("; ")


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("2020-03-20T16:00:10.144989Z", datetime(2020, 3, 20, 16, 0, 10, 144989, tzinfo=UTC)),
        ("2020-03-20T16:00:10Z", datetime(2020, 3, 20, 16, 0, 10, tzinfo=UTC)),
        ("2020-03-20T18:00:10.5+02:00", datetime(2020, 3, 20, 16, 0, 10, 500000, tzinfo=UTC)),
        (1584720010, datetime(2020, 3, 20, 16, 0, 10, tzinfo=UTC)),
        (1584720010.25, datetime(2020, 3, 20, 16, 0, 10, 250000, tzinfo=UTC)),
    ],
)
def test_ts_becomes_aware_utc(value: object, utc: datetime) -> None:
    event = normalize_event(ids_alert(ts=value))

    assert (event.ts, event.parse_error) == (utc, "")
    assert event.ts.utcoffset().total_seconds() == 0


def test_naive_ts_is_assumed_utc_and_reported() -> None:
    event = normalize_event(ids_alert(ts="2020-03-20T16:00:10"))

    assert event.ts == datetime(2020, 3, 20, 16, 0, 10, tzinfo=UTC)
    assert event.parse_error == "naive ts '2020-03-20T16:00:10' (assumed UTC)"


def test_unknown_event_type_is_stored_without_error() -> None:
    event = normalize_event(ids_alert(eventType="Content Filtering Block"))

    assert (event.event_type, event.parse_error) == ("Content Filtering Block", "")


@pytest.mark.parametrize("value", [..., None, ""])
def test_missing_event_type_is_reported(value: object) -> None:
    event = normalize_event(ids_alert(eventType=value))

    assert (event.event_type, event.parse_error) == ("", "missing eventType")


@pytest.mark.parametrize(("value", "blocked"), [(True, True), (False, False), ("true", True), ("FALSE", False)])
def test_blocked_accepts_booleans_and_their_strings(value: object, blocked: bool) -> None:
    event = normalize_event(ids_alert(blocked=value))

    assert (event.blocked, event.parse_error) == (blocked, "")


@pytest.mark.parametrize(("value", "shown"), [("yes", "'yes'"), (1, "1"), (0, "0"), ([True], "of type list")])
def test_invalid_blocked_is_none_and_reported(value: object, shown: str) -> None:
    event = normalize_event(ids_alert(blocked=value))

    assert (event.blocked, event.parse_error) == (None, f"invalid blocked {shown}")


def test_missing_blocked_is_none_without_error() -> None:
    event = normalize_event(ids_alert(blocked=...))

    assert (event.blocked, event.parse_error) == (None, "")


@pytest.mark.parametrize(("value", "text"), [(7, "7"), (2.5, "2.5"), (False, "false")])
def test_text_fields_store_scalars_as_their_json_text(value: object, text: str) -> None:
    event = normalize_event(ids_alert(message=value, protocol=value))

    assert (event.message, event.protocol, event.parse_error) == (text, text, "")


@pytest.mark.parametrize(("field", "key"), TEXT_FIELD_KEYS.items())
@pytest.mark.parametrize("value", [{"nested": "object"}, ["a", "list"]])
def test_text_field_holding_object_or_list_is_blank_and_reported(field: str, key: str, value: object) -> None:
    event = normalize_event(ids_alert(**{key: value}))

    assert getattr(event, field) == ""
    assert f"invalid {key} of type {type(value).__name__}" in event.parse_error.split("; ")


def test_file_hash_is_lower_cased() -> None:
    event = normalize_event({**OFFICIAL_EVENTS[0], "fileHash": "3EC1B9A9"})

    assert event.file_hash == "3ec1b9a9"


@pytest.mark.parametrize(("field", "key"), TEXT_FIELD_KEYS.items())
def test_long_text_is_truncated_without_error_and_raw_keeps_it(field: str, key: str) -> None:
    long_text = "x" * (FIELD_MAX_LENGTHS[field] + 10)
    event = normalize_event(ids_alert(**{key: long_text}))

    assert getattr(event, field) == "x" * FIELD_MAX_LENGTHS[field]
    assert event.raw[key] == long_text
    assert event.parse_error == ""


def test_nul_characters_are_replaced_in_raw_and_fields() -> None:
    event = normalize_event(ids_alert(message="JMX\x00console", **{"odd\x00key": ["\x00"]}))

    assert event.message == "JMX\ufffdconsole"
    assert event.raw["message"] == "JMX\ufffdconsole"
    assert event.raw["odd\ufffdkey"] == ["\ufffd"]
    assert event.parse_error == "raw contained NUL characters (replaced)"


def test_lone_surrogates_are_replaced_in_raw_and_fields() -> None:
    event = normalize_event(ids_alert(message="bad\ud800pair"))

    assert event.message == "bad\ufffdpair"
    assert event.raw["message"] == "bad\ufffdpair"
    assert event.parse_error == "raw contained lone surrogates (replaced)"


@pytest.mark.parametrize(("value", "stored"), [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity")])
def test_non_finite_numbers_are_stored_as_strings(value: float, stored: str) -> None:
    event = normalize_event(ids_alert(fileSizeBytes=value, nested={"list": [value]}))

    assert event.raw["fileSizeBytes"] == stored
    assert event.raw["nested"] == {"list": [stored]}
    assert event.parse_error == "raw contained non-finite numbers (stored as strings)"
    assert_storable(event.raw)


def test_raw_nested_too_deep_keeps_the_deep_part_as_json_text() -> None:
    event = normalize_event(ids_alert(deep=json.loads("[" * 100 + "]" * 100)))

    stored = event.raw["deep"]  # the event object is level 0, so this list is level 1
    for _ in range(31):
        stored = stored[0]
    assert stored == "[" * 69 + "]" * 69
    assert event.parse_error == "raw nested deeper than 32 levels (deeper parts stored as JSON text)"
    assert_storable(event.raw)


@pytest.mark.parametrize(
    ("raw", "type_name"),
    [
        ([IDS_ALERT], "list"),
        ("IDS Alert", "str"),
        (None, "NoneType"),
        (7, "int"),
        (1.5, "float"),
        (True, "bool"),
    ],
)
def test_non_object_event_has_empty_fields_and_is_reported(raw: object, type_name: str) -> None:
    event = normalize_event(raw)

    assert event == NormalizedEvent(
        raw=raw, fingerprint=fingerprint(raw), parse_error=f"event is not a JSON object (got {type_name})"
    )


def test_several_problems_are_joined_in_one_message() -> None:
    event = normalize_event(ids_alert(ts=..., priority="high", clientMac="nope"))

    assert event.parse_error == "missing ts; invalid priority 'high'; invalid clientMac 'nope'"


ODD_VALUES = {
    "null": None,
    "true": True,
    "zero": 0,
    "negative": -1,
    "beyond-64-bits": 2**64,
    "huge-float": 1e308,
    "nan": math.nan,
    "minus-infinity": -math.inf,
    "empty-string": "",
    "nul": "\x00",
    "lone-surrogate": "\ud800",
    "reversed-surrogates": "\udfff\ud800",
    "megabyte-string": "\ud83d\x00é" * 350_000,
    "empty-list": [],
    "empty-object": {},
    "nested-list": [None, [{}]],
    "nested-object": {"a": {"b": {"c": [math.nan, "\x00"]}}},
    "nested-900-deep": json.loads("[" * 900 + "]" * 900),
    # Not JSON at all: only a caller handing over Python objects could send these.
    "int-too-long-to-print": 10**5000,
    "bytes": b"bytes",
    "set": {1, 2},
    "tuple": (1, "tuple"),
    "object": object(),
    "non-string-keys": {("tuple", "key"): 1, None: 2, 1.5: 3},
}


@pytest.mark.parametrize("value", ODD_VALUES.values(), ids=ODD_VALUES.keys())
def test_odd_values_anywhere_never_raise_and_stay_storable(value: object) -> None:
    every_key = [*TEXT_FIELD_KEYS.values(), "ts", "priority", "srcIp", "destIp", "destinationPort"]
    every_key += ["clientIp", "clientMac", "deviceMac", "blocked", "sigSource"]
    for raw in [value, {key: value for key in every_key}, {"wrapper": value}, [value]]:
        event = normalize_event(raw)

        assert_storable(event.raw)
        assert len(event.fingerprint) == 64
        for field, max_length in FIELD_MAX_LENGTHS.items():
            text = getattr(event, field)
            assert len(text) <= max_length
            assert "\x00" not in text
            text.encode("utf-8")
        event.parse_error.encode("utf-8")
        assert "\x00" not in event.parse_error
