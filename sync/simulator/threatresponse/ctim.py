"""CTIM validation for the simulated Threat Response private intel (CTIA): pure Python, no Django.

It checks what CTIA's schema coercion checks for the three entities the product writes (NewSighting,
NewIncident, NewRelationship) and the envelope of a NewBundle, after ctim `src/ctim/schemas/*.cljc` and the
research notes (shared reference, Part A2/A3). Every `validate_*` function returns human-readable error strings,
each prefixed with the path of the offending field (`observables[0].type: ...`); an empty list means valid.

Choices where CTIA is looser, configurable or unknown (all deliberate, so the product is held to the strict side):
- CTIM schemas are closed: an unknown key at the top level *or inside a known structure* is an error.
- `tlp: "white"` is rejected, as OSS CTIA does with its default `min-tlp green`; the hosted minimum is not
  published, so a product that never sends `white` works with both.
- Times must be ISO 8601 date-times with a zone (`2025-01-10T08:00:00.000Z`, `...+02:00`); naive times and bare
  dates are rejected, so the product never relies on the server's guess of a zone.
- `source_uri`/`uri` must look like a URI (`scheme:rest`, no whitespace); CTIM only types them as strings.
- Relationship refs must be a CTIA long id or a `transient:` id (CTIM only types them as strings).
- `relationship_type` is an open vocabulary: any non-empty string passes; `KNOWN_RELATIONSHIP_TYPES` lists the
  documented values (the product should use `member-of` for sighting → incident).
- `schema_version`, if sent, must equal `SCHEMA_VERSION`; leave it out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

VOCABULARIES_PATH = Path(__file__).resolve().parent.parent / "data" / "ctim-vocabularies.json"
_VOCABULARIES: dict[str, Any] = json.loads(VOCABULARIES_PATH.read_text(encoding="utf-8"))

# The CTIM version the vocabularies were extracted from (1.3.29-SNAPSHOT); what this simulator stamps on entities.
SCHEMA_VERSION = "1.3.29"
DEFAULT_TLP: str = _VOCABULARIES["tlp_default_ctim"]
MIN_TLP = "green"

OBSERVABLE_TYPES = frozenset(_VOCABULARIES["observable_types"])
CONFIDENCES = frozenset(_VOCABULARIES["confidence_HighMedLow"])
SEVERITIES = frozenset(_VOCABULARIES["severity"])
INCIDENT_STATUSES = frozenset(_VOCABULARIES["incident_status"])
SIGHTING_RESOLUTIONS = frozenset(_VOCABULARIES["sighting_resolution"])
SENSORS = frozenset(_VOCABULARIES["sensor"])
TLPS = frozenset(_VOCABULARIES["tlp"])
KNOWN_RELATIONSHIP_TYPES = frozenset(_VOCABULARIES["relationship_type"])
# TLP order, least to most restrictive: a value below MIN_TLP is refused.
_TLP_ORDER = ("white", "green", "amber", "red")
ACCEPTED_TLPS = frozenset(_TLP_ORDER[_TLP_ORDER.index(MIN_TLP) :]) & TLPS

SHORT_STRING = 1024  # ShortString: title, assignees
MED_STRING = 2048  # MedString: short_description, source, source_uri, refs
LONG_STRING = 5000  # Markdown: description

ENTITY_TYPES = ("sighting", "incident", "relationship")

# ctim `domain/id.cljc`: protocol, host, optional port, optional path prefix, `/ctia/<type>/<type>-<uuid>`.
SHORT_ID_RE = re.compile(r"(?P<short_type>[a-z][-a-z]+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LONG_ID_RE = re.compile(
    r"(?P<protocol>https?)://(?P<host>[-\da-zA-Z][-\da-zA-Z.]*)(?::(?P<port>\d+))?(?P<prefix>(?:/[-\w.]+)*)"
    r"/ctia/(?P<type>[a-z][-a-z]*)/(?P<short_id>" + SHORT_ID_RE.pattern + ")"
)
TRANSIENT_ID_RE = re.compile(r"transient:.*", re.DOTALL)
_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")

_BASE_KEYS = frozenset(
    {"id", "type", "schema_version", "uri", "revision", "external_ids", "external_references", "timestamp"}
    | {"language", "tlp", "title", "short_description", "description", "source", "source_uri"}
)
SIGHTING_KEYS = _BASE_KEYS | {
    "observed_time",
    "confidence",
    "count",
    "severity",
    "internal",
    "resolution",
    "data",
    "sensor",
    "sensor_coordinates",
    "targets",
    "observables",
    "relations",
    "context",
    "activity_interval",
    "detection_interval",
    "modification_interval",
}
INCIDENT_KEYS = _BASE_KEYS | {
    "confidence",
    "status",
    "incident_time",
    "severity",
    "categories",
    "discovery_method",
    "assignees",
    "scores",
    "tactics",
    "techniques",
    "promotion_method",
    "detection_sources",
    "intended_effect",
    "meta",
}
RELATIONSHIP_KEYS = _BASE_KEYS | {"relationship_type", "source_ref", "target_ref"}
INCIDENT_TIME_KEYS = ("opened", "discovered", "reported", "remediated", "closed", "rejected", "contained")

# NewBundle: entity arrays (plural) and the matching, never imported, `*_refs` arrays.
BUNDLE_ENTITY_ARRAYS = {
    "actors": "actor",
    "assets": "asset",
    "asset_mappings": "asset-mapping",
    "asset_properties": "asset-properties",
    "attack_patterns": "attack-pattern",
    "campaigns": "campaign",
    "casebooks": "casebook",
    "coas": "coa",
    "data_tables": "data-table",
    "feedbacks": "feedback",
    "identity_assertions": "identity-assertion",
    "incidents": "incident",
    "indicators": "indicator",
    "investigations": "investigation",
    "judgements": "judgement",
    "malwares": "malware",
    "notes": "note",
    "relationships": "relationship",
    "sightings": "sighting",
    "target_records": "target-record",
    "tools": "tool",
    "verdicts": "verdict",
    "vulnerabilities": "vulnerability",
    "weaknesses": "weakness",
}
BUNDLE_REF_ARRAYS = frozenset(f"{entity_type.replace('-', '_')}_refs" for entity_type in BUNDLE_ENTITY_ARRAYS.values())
BUNDLE_KEYS = _BASE_KEYS | {"valid_time"} | set(BUNDLE_ENTITY_ARRAYS) | BUNDLE_REF_ARRAYS


class _Errors(list):
    def add(self, path: str, message: str) -> None:
        self.append(f"{path}: {message}" if path else message)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def parse_time(value: Any) -> datetime | None:
    """An aware datetime for an ISO 8601 date-time string with a zone, else None."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def is_transient_id(value: Any) -> bool:
    return isinstance(value, str) and TRANSIENT_ID_RE.fullmatch(value) is not None


def is_long_id(value: Any) -> bool:
    return isinstance(value, str) and LONG_ID_RE.fullmatch(value) is not None


def short_id(value: str) -> str:
    """The `<type>-<uuid>` part of a long id, or the value itself when it is not a long id."""
    match = LONG_ID_RE.fullmatch(value)
    return match["short_id"] if match else value


# --- field checks: each appends to `errors` and returns whether the value passed -----------------------------


def _check_keys(obj: dict, allowed: frozenset[str] | set[str], path: str, errors: _Errors) -> None:
    for key in obj:
        if key not in allowed:
            errors.add(_join(path, key), "unknown key (CTIM schemas are closed)")


def _check_object(value: Any, path: str, errors: _Errors) -> bool:
    if not isinstance(value, dict):
        errors.add(path, "must be a JSON object")
        return False
    return True


def _check_string(value: Any, path: str, errors: _Errors, *, max_length: int | None = None, non_empty=False) -> bool:
    if not isinstance(value, str):
        errors.add(path, "must be a string")
        return False
    if non_empty and not value.strip():
        errors.add(path, "must not be empty")
        return False
    if max_length is not None and len(value) > max_length:
        errors.add(path, f"must be at most {max_length} characters (got {len(value)})")
        return False
    return True


def _check_uri(value: Any, path: str, errors: _Errors) -> bool:
    if not _check_string(value, path, errors, max_length=MED_STRING):
        return False
    if not _URI_RE.fullmatch(value):
        errors.add(path, f"must be a URI such as https://example.com/path (got {value!r})")
        return False
    return True


def _check_time(value: Any, path: str, errors: _Errors) -> datetime | None:
    parsed = parse_time(value)
    if parsed is None:
        errors.add(path, f"must be an ISO 8601 date-time with a zone, e.g. 2025-01-10T08:00:00.000Z (got {value!r})")
    return parsed


def _check_int(value: Any, path: str, errors: _Errors, *, minimum: int | None = None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(path, "must be an integer")
        return False
    if minimum is not None and value < minimum:
        errors.add(path, f"must be at least {minimum} (got {value})")
        return False
    return True


def _check_bool(value: Any, path: str, errors: _Errors) -> bool:
    if not isinstance(value, bool):
        errors.add(path, "must be true or false")
        return False
    return True


def _check_vocabulary(value: Any, vocabulary: frozenset[str], name: str, path: str, errors: _Errors) -> bool:
    if not isinstance(value, str) or value not in vocabulary:
        shown = ", ".join(sorted(vocabulary)) if len(vocabulary) <= 30 else f"{len(vocabulary)} CTIM values"
        errors.add(path, f"{value!r} is not a valid {name} (expected one of: {shown})")
        return False
    return True


def _check_list(value: Any, path: str, errors: _Errors, item: Callable[[Any, str, _Errors], Any]) -> bool:
    if not isinstance(value, list):
        errors.add(path, "must be a list")
        return False
    for index, element in enumerate(value):
        item(element, _join(path, index), errors)
    return True


def _check_string_list(value: Any, path: str, errors: _Errors, *, max_length: int | None = None) -> bool:
    return _check_list(value, path, errors, lambda v, p, e: _check_string(v, p, e, max_length=max_length))


def _check_tlp(value: Any, path: str, errors: _Errors) -> None:
    if not _check_vocabulary(value, TLPS, "TLP", path, errors):
        return
    if value not in ACCEPTED_TLPS:
        errors.add(path, f"{value!r} is below this instance's minimum TLP {MIN_TLP!r} (OSS CTIA default)")


def _check_observable(value: Any, path: str, errors: _Errors) -> None:
    if not _check_object(value, path, errors):
        return
    _check_keys(value, {"type", "value"}, path, errors)
    if "type" not in value:
        errors.add(_join(path, "type"), "required")
    else:
        _check_vocabulary(value["type"], OBSERVABLE_TYPES, "observable type", _join(path, "type"), errors)
    if "value" not in value:
        errors.add(_join(path, "value"), "required")
    else:
        _check_string(value["value"], _join(path, "value"), errors, non_empty=True)


def _check_observables(value: Any, path: str, errors: _Errors) -> None:
    _check_list(value, path, errors, _check_observable)


def _check_interval(value: Any, path: str, errors: _Errors, *, start_required: bool) -> None:
    """ObservedTime (start required) or ValidTime-like interval: `end_time` must not precede `start_time`."""
    if not _check_object(value, path, errors):
        return
    _check_keys(value, {"start_time", "end_time"}, path, errors)
    start = end = None
    if "start_time" in value:
        start = _check_time(value["start_time"], _join(path, "start_time"), errors)
    elif start_required:
        errors.add(_join(path, "start_time"), "required")
    if "end_time" in value:
        end = _check_time(value["end_time"], _join(path, "end_time"), errors)
    if start and end and end < start:
        errors.add(_join(path, "end_time"), "must not be before start_time")


def _check_observed_time(value: Any, path: str, errors: _Errors) -> None:
    _check_interval(value, path, errors, start_required=True)


def _check_identity_specification(value: Any, path: str, errors: _Errors, *, observed_time: bool = True) -> None:
    """A sighting target (IdentitySpecification) or, without observed_time, its sensor_coordinates."""
    if not _check_object(value, path, errors):
        return
    required = ("type", "observables", "observed_time") if observed_time else ("type", "observables")
    _check_keys(value, {*required, "os"}, path, errors)
    for key in required:
        if key not in value:
            errors.add(_join(path, key), "required")
    if "type" in value:
        _check_vocabulary(value["type"], SENSORS, "sensor", _join(path, "type"), errors)
    if "observables" in value:
        _check_observables(value["observables"], _join(path, "observables"), errors)
    if observed_time and "observed_time" in value:
        _check_observed_time(value["observed_time"], _join(path, "observed_time"), errors)
    if "os" in value:
        _check_string(value["os"], _join(path, "os"), errors)


def _check_relation(value: Any, path: str, errors: _Errors) -> None:
    """An ObservedRelation of a sighting: `source` --relation--> `related`."""
    if not _check_object(value, path, errors):
        return
    _check_keys(value, {"origin", "origin_uri", "relation", "relation_info", "source", "related"}, path, errors)
    for key in ("origin", "relation", "source", "related"):
        if key not in value:
            errors.add(_join(path, key), "required")
    for key in ("origin", "relation"):
        if key in value:
            _check_string(value[key], _join(path, key), errors, non_empty=True, max_length=MED_STRING)
    if "origin_uri" in value:
        _check_uri(value["origin_uri"], _join(path, "origin_uri"), errors)
    if "relation_info" in value:
        _check_object(value["relation_info"], _join(path, "relation_info"), errors)
    for key in ("source", "related"):
        if key in value:
            _check_observable(value[key], _join(path, key), errors)


def _check_data_table(value: Any, path: str, errors: _Errors) -> None:
    if not _check_object(value, path, errors):
        return
    _check_keys(value, {"columns", "rows", "row_count"}, path, errors)
    for key in ("columns", "rows"):
        if key not in value:
            errors.add(_join(path, key), "required")
    if "columns" in value:
        _check_list(value["columns"], _join(path, "columns"), errors, _check_object)
    if "rows" in value:
        _check_list(value["rows"], _join(path, "rows"), errors, lambda v, p, e: _check_list(v, p, e, lambda *_: None))
    if "row_count" in value:
        _check_int(value["row_count"], _join(path, "row_count"), errors, minimum=0)


def _check_external_reference(value: Any, path: str, errors: _Errors) -> None:
    if not _check_object(value, path, errors):
        return
    _check_keys(value, {"source_name", "url", "description", "external_id", "hashes"}, path, errors)
    if "source_name" not in value:
        errors.add(_join(path, "source_name"), "required")
    else:
        _check_string(value["source_name"], _join(path, "source_name"), errors, non_empty=True)
    if "url" in value:
        _check_uri(value["url"], _join(path, "url"), errors)
    for key in ("description", "external_id"):
        if key in value:
            _check_string(value[key], _join(path, key), errors)
    if "hashes" in value:
        _check_string_list(value["hashes"], _join(path, "hashes"), errors)


def _check_reference(value: Any, path: str, errors: _Errors) -> None:
    if not _check_string(value, path, errors, non_empty=True, max_length=MED_STRING):
        return
    if not (is_long_id(value) or is_transient_id(value)):
        errors.add(
            path,
            f"must be a CTIA long id (https://<host>/ctia/<type>/<type>-<uuid>) or a transient: id (got {value!r})",
        )


def _check_base(entity: dict, entity_type: str, allowed: frozenset[str] | set[str], errors: _Errors) -> None:
    """The fields every New* entity shares: base entity, describable and sourcable entries."""
    _check_keys(entity, allowed, "", errors)
    if "id" in entity:
        _check_string(entity["id"], "id", errors, non_empty=True, max_length=MED_STRING)
    if "type" in entity and entity["type"] != entity_type:
        errors.add("type", f"must be {entity_type!r} (got {entity['type']!r})")
    if "schema_version" in entity and entity["schema_version"] != SCHEMA_VERSION:
        errors.add(
            "schema_version",
            f"must be this server's CTIM version {SCHEMA_VERSION!r} (got {entity['schema_version']!r}); leave it out",
        )
    if "uri" in entity:
        _check_uri(entity["uri"], "uri", errors)
    if "revision" in entity:
        _check_int(entity["revision"], "revision", errors, minimum=0)
    if "external_ids" in entity:
        _check_string_list(entity["external_ids"], "external_ids", errors)
    if "external_references" in entity:
        _check_list(entity["external_references"], "external_references", errors, _check_external_reference)
    if "timestamp" in entity:
        _check_time(entity["timestamp"], "timestamp", errors)
    if "language" in entity:
        _check_string(entity["language"], "language", errors)
    if "tlp" in entity:
        _check_tlp(entity["tlp"], "tlp", errors)
    for key, limit in (("title", SHORT_STRING), ("short_description", MED_STRING), ("description", LONG_STRING)):
        if key in entity:
            _check_string(entity[key], key, errors, max_length=limit)
    if "source" in entity:
        _check_string(entity["source"], "source", errors, max_length=MED_STRING)
    if "source_uri" in entity:
        _check_uri(entity["source_uri"], "source_uri", errors)


def _not_an_object(entity: Any, entity_type: str) -> list[str]:
    return [f"a {entity_type} must be a JSON object (got {type(entity).__name__})"]


# --- entities ----------------------------------------------------------------------------------------------------


def validate_sighting(entity: Any) -> list[str]:
    """Errors of a NewSighting: `observed_time.start_time` is the only required field."""
    if not isinstance(entity, dict):
        return _not_an_object(entity, "sighting")
    errors = _Errors()
    _check_base(entity, "sighting", SIGHTING_KEYS, errors)
    if "observed_time" not in entity:
        errors.add("observed_time", "required")
    else:
        _check_observed_time(entity["observed_time"], "observed_time", errors)
    if "count" in entity:
        _check_int(entity["count"], "count", errors, minimum=0)
    if "confidence" in entity:
        _check_vocabulary(entity["confidence"], CONFIDENCES, "confidence", "confidence", errors)
    if "severity" in entity:
        _check_vocabulary(entity["severity"], SEVERITIES, "severity", "severity", errors)
    if "resolution" in entity:
        _check_vocabulary(entity["resolution"], SIGHTING_RESOLUTIONS, "resolution", "resolution", errors)
    if "sensor" in entity:
        _check_vocabulary(entity["sensor"], SENSORS, "sensor", "sensor", errors)
    if "internal" in entity:
        _check_bool(entity["internal"], "internal", errors)
    if "observables" in entity:
        _check_observables(entity["observables"], "observables", errors)
    if "targets" in entity:
        _check_list(entity["targets"], "targets", errors, _check_identity_specification)
    if "sensor_coordinates" in entity:
        _check_identity_specification(entity["sensor_coordinates"], "sensor_coordinates", errors, observed_time=False)
    if "relations" in entity:
        _check_list(entity["relations"], "relations", errors, _check_relation)
    if "data" in entity:
        _check_data_table(entity["data"], "data", errors)
    if "context" in entity:
        _check_list(entity["context"], "context", errors, _check_object)
    for key in ("activity_interval", "detection_interval", "modification_interval"):
        if key in entity:
            _check_interval(entity[key], key, errors, start_required=False)
    return list(errors)


def validate_incident(entity: Any) -> list[str]:
    """Errors of a NewIncident: `confidence`, `status` and `incident_time.opened` are required."""
    if not isinstance(entity, dict):
        return _not_an_object(entity, "incident")
    errors = _Errors()
    _check_base(entity, "incident", INCIDENT_KEYS, errors)
    for key in ("confidence", "status", "incident_time"):
        if key not in entity:
            errors.add(key, "required")
    if "confidence" in entity:
        _check_vocabulary(entity["confidence"], CONFIDENCES, "confidence", "confidence", errors)
    if "status" in entity:
        _check_vocabulary(entity["status"], INCIDENT_STATUSES, "incident status", "status", errors)
    if "severity" in entity:
        _check_vocabulary(entity["severity"], SEVERITIES, "severity", "severity", errors)
    incident_time = entity.get("incident_time")
    if "incident_time" in entity and _check_object(incident_time, "incident_time", errors):
        _check_keys(incident_time, set(INCIDENT_TIME_KEYS), "incident_time", errors)
        if "opened" not in incident_time:
            errors.add("incident_time.opened", "required")
        for key in INCIDENT_TIME_KEYS:
            if key in incident_time:
                _check_time(incident_time[key], f"incident_time.{key}", errors)
    # Open vocabularies (categories, discovery_method, ...): any string.
    for key in ("categories", "tactics", "techniques", "detection_sources"):
        if key in entity:
            _check_string_list(entity[key], key, errors)
    if "assignees" in entity:
        _check_string_list(entity["assignees"], "assignees", errors, max_length=SHORT_STRING)
    for key in ("discovery_method", "promotion_method", "intended_effect"):
        if key in entity:
            _check_string(entity[key], key, errors)
    scores = entity.get("scores")
    if "scores" in entity and _check_object(scores, "scores", errors):
        for name, score in scores.items():
            if isinstance(score, bool) or not isinstance(score, int | float) or score < 0:
                errors.add(f"scores.{name}", f"must be a number >= 0 (got {score!r})")
    if "meta" in entity:
        _check_object(entity["meta"], "meta", errors)
    return list(errors)


def validate_relationship(entity: Any) -> list[str]:
    """Errors of a NewRelationship: `relationship_type`, `source_ref` and `target_ref` are required."""
    if not isinstance(entity, dict):
        return _not_an_object(entity, "relationship")
    errors = _Errors()
    _check_base(entity, "relationship", RELATIONSHIP_KEYS, errors)
    for key in ("relationship_type", "source_ref", "target_ref"):
        if key not in entity:
            errors.add(key, "required")
    if "relationship_type" in entity:
        _check_string(entity["relationship_type"], "relationship_type", errors, non_empty=True, max_length=MED_STRING)
    for key in ("source_ref", "target_ref"):
        if key in entity:
            _check_reference(entity[key], key, errors)
    return list(errors)


_VALIDATORS: dict[str, Callable[[Any], list[str]]] = {
    "sighting": validate_sighting,
    "incident": validate_incident,
    "relationship": validate_relationship,
}


def validate(entity_type: str, entity: Any) -> list[str]:
    """Errors of a New<entity_type> payload (sighting, incident or relationship)."""
    try:
        validator = _VALIDATORS[entity_type]
    except KeyError:
        return [f"entity type {entity_type!r} is not supported (expected one of: {', '.join(ENTITY_TYPES)})"]
    return validator(entity)


def validate_bundle(bundle: Any) -> list[str]:
    """Errors of a NewBundle's envelope: `source` required, closed keys, entity arrays of objects.

    The entities themselves are validated one by one by the import (an invalid one is an `error` result).
    """
    if not isinstance(bundle, dict):
        return _not_an_object(bundle, "bundle")
    errors = _Errors()
    _check_base(bundle, "bundle", BUNDLE_KEYS, errors)
    if "source" not in bundle:
        errors.add("source", "required")
    if "valid_time" in bundle:
        _check_interval(bundle["valid_time"], "valid_time", errors, start_required=False)
    for key in BUNDLE_ENTITY_ARRAYS:
        if key in bundle:
            _check_list(bundle[key], key, errors, _check_object)
    for key in BUNDLE_REF_ARRAYS:
        if key in bundle:
            _check_list(bundle[key], key, errors, _check_reference)
    return list(errors)
