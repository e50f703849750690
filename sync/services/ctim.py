"""CTIM objects for a promoted security event: a sighting, an incident and the relationship between them.

Pure functions on a SecurityEvent (or anything with its fields): no database, no HTTP. Every object carries a
deterministic external id derived from the organization and the event's fingerprint, so importing it again into
Threat Response answers `exists` instead of creating a second one; inside a bundle the objects carry `transient:`
ids derived the same way, which the relationship refers to. Values from the network are markdown-escaped in
descriptions, observables are only produced for values present and valid, and every text field is cut to its CTIM
limit with "…".
"""

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from sync.services.webex_messages import escape_markdown, format_time, markdown_link, one_line

if TYPE_CHECKING:
    from sync.models import SecurityEvent

CTIM_SOURCE = "Meraki MX security events"
EXTERNAL_ID_PREFIX = "meraki-incidents-"
TRANSIENT_PREFIX = "transient:"

CONFIDENCE = "High"
SEVERITY = "High"
TLP = "amber"
INCIDENT_STATUS = "New"
RELATIONSHIP_TYPE = "member-of"  # sighting member-of incident, as CTIM documents it
SENSOR = "network.firewall"  # an MX security appliance

# CTIM string limits; Clojure counts UTF-16 code units, so a character outside the BMP counts twice.
TITLE_MAX = 1024
SHORT_DESCRIPTION_MAX = 2048
DESCRIPTION_MAX = 5000
SOURCE_URI_MAX = 2048
# An observable is an indicator: a cut one would be a different, false indicator, so a longer value is dropped.
OBSERVABLE_VALUE_MAX = 2048
ELLIPSIS = "…"

# CTIA refuses a bundle of more than `ctia.http.bulk.max-size` entities (OSS default 2000; hosted unpublished).
CTIA_BUNDLE_MAX_ENTITIES = 2000
DEFAULT_BUNDLE_MAX_ENTITIES = 1500
ENTITIES_PER_EVENT = 3

_HASH_TYPES = {32: "md5", 40: "sha1", 64: "sha256"}
_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True)
class EventEntities:
    """The three CTIM objects of one promoted event, with the external id each carries."""

    sighting: dict
    incident: dict
    relationship: dict
    sighting_external_id: str
    incident_external_id: str
    relationship_external_id: str

    @property
    def parts(self) -> tuple[tuple[str, str, dict], ...]:
        """(bundle array, external id, entity) for each object, in the order a bundle lists them."""
        return (
            ("sightings", self.sighting_external_id, self.sighting),
            ("incidents", self.incident_external_id, self.incident),
            ("relationships", self.relationship_external_id, self.relationship),
        )


def external_id(*, entity_type: str, organization_key: str, fingerprint: str) -> str:
    """``meraki-incidents-<type>-<sha256 hex of "org|fingerprint|type">``: the same event always gets the same id.

    ``organization_key`` names the organization stably (e.g. its Meraki API host and org id), so the same event
    seen in two organizations gives two objects.
    """
    if not organization_key or not fingerprint or not entity_type:
        raise ValueError("an external id needs an entity type, an organization key and a fingerprint")
    digest = hashlib.sha256(f"{organization_key}|{fingerprint}|{entity_type}".encode()).hexdigest()
    return f"{EXTERNAL_ID_PREFIX}{entity_type}-{digest}"


def transient_id(external_id: str) -> str:
    return TRANSIENT_PREFIX + external_id


def promotion_label(event: "SecurityEvent") -> str:
    """What the event is called in titles: "IDS Alert Priority 1", "Malware Downloaded" or its event type."""
    event_type = one_line(event.event_type)
    kind = event_type.casefold()
    if kind == "ids alert":
        return f"IDS Alert Priority {event.priority}" if event.priority is not None else "IDS Alert"
    if kind == "malware downloaded" or (
        kind == "file scanned" and one_line(event.disposition).casefold() == "malicious"
    ):
        return "Malware Downloaded"
    return event_type or "Security Event"


def promotion_title(event: "SecurityEvent") -> str:
    """``Meraki Security Event: <label> for <source ip> @ <ts>``, as the SecureX workflow titled it."""
    source = one_line(event.src_ip) or "unknown source"
    title = f"Meraki Security Event: {promotion_label(event)} for {source} @ {format_time(event.ts)}"
    return cut(title, TITLE_MAX)


def ctim_time(value: datetime) -> str:
    """An aware time as CTIA writes it: ISO 8601 UTC with milliseconds and ``Z`` (naive is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def event_observables(event: "SecurityEvent") -> list[dict]:
    """The sighting's observables: source and destination IP (no port), file hash, URL and the URL's file name.

    Only values present and valid: an unparseable IP, a hash of unknown length or an over-long value gives none.
    """
    candidates = [
        _ip_observable(event.src_ip),
        _ip_observable(event.dest_ip),
        _hash_observable(event.file_hash),
        _observable("url", event.uri),
        _observable("file_name", uri_file_name(event.uri)),
    ]
    return _unique(candidates)


def endpoint_target(event: "SecurityEvent", *, observed_time: datetime) -> dict | None:
    """The client as a CTIM target (its IP, MAC and hostname, where known); None when none of them is."""
    observables = _unique(
        [
            _ip_observable(event.client_ip),
            _observable("mac_address", event.client_mac),
            _observable("hostname", event.client_name),
        ]
    )
    if not observables:
        return None
    return {"type": "endpoint", "observables": observables, "observed_time": {"start_time": ctim_time(observed_time)}}


def uri_file_name(uri: str) -> str:
    """The last segment of the URI's path, percent-decoded ("" when the path ends with "/" or has none)."""
    try:
        path = urlsplit(one_line(uri)).path
    except ValueError:  # e.g. an unbalanced "[" in the host
        return ""
    name = one_line(unquote(path.rsplit("/", 1)[-1]))
    return "" if name in {".", ".."} else name


def event_description(event: "SecurityEvent", *, title: str, event_url: str) -> str:
    """The markdown description: title, message, file name, threat name, rule id, action and the event link.

    The link to the event page is kept when the details have to be cut to the CTIM limit.
    """
    lines = [f"**{escape_markdown(title)}**"]
    fields = (
        ("Message", event.message),
        ("File name", uri_file_name(event.uri)),
        ("Threat name", event.canonical_name),
        ("Meraki rule ID", event.rule_id),
        ("Action taken", _action(event)),
    )
    lines += [f"**{label}:** {escape_markdown(value)}" for label, value in fields if one_line(value)]
    body = "\n\n".join(lines)
    footer = f"\n\n{markdown_link('Open the event in meraki-incidents', event_url)}" if event_url else ""
    if _utf16_length(footer) > DESCRIPTION_MAX // 2:
        return cut(body + footer, DESCRIPTION_MAX)
    return cut(body, DESCRIPTION_MAX - _utf16_length(footer)) + footer


def short_description(event: "SecurityEvent") -> str:
    """One plain line on what was detected (the IDS message or the malware's name); "" when neither is known."""
    detail = one_line(event.message) or one_line(event.canonical_name)
    return cut(f"{promotion_label(event)}: {detail}", SHORT_DESCRIPTION_MAX) if detail else ""


def build_sighting(
    event: "SecurityEvent", *, organization_key: str, event_url: str, fallback_time: datetime | None = None
) -> dict:
    """The CTIM sighting of the event: observed at the event's time, High/High, amber, count 1.

    An event without a time (stored with a parse error) is placed at when it was stored, else at ``fallback_time``.
    """
    xid = external_id(entity_type="sighting", organization_key=organization_key, fingerprint=event.fingerprint)
    observed = _observed_time(event, fallback_time)
    title = promotion_title(event)
    sighting = {
        "id": transient_id(xid),
        "type": "sighting",
        "external_ids": [xid],
        "source": CTIM_SOURCE,
        **_source_uri(event_url),
        "title": title,
        "description": event_description(event, title=title, event_url=event_url),
        **_short_description(event),
        "confidence": CONFIDENCE,
        "severity": SEVERITY,
        "tlp": TLP,
        "count": 1,
        "observed_time": {"start_time": ctim_time(observed)},
        "sensor": SENSOR,
        "resolution": "blocked" if _is_blocked(event) else "detected",
    }
    if observables := event_observables(event):
        sighting["observables"] = observables
    if target := endpoint_target(event, observed_time=observed):
        sighting["targets"] = [target]
    return sighting


def build_incident(event: "SecurityEvent", *, organization_key: str, event_url: str, promoted_at: datetime) -> dict:
    """The CTIM incident of the event: status New, High/High, amber; opened when promoted, discovered at the event."""
    xid = external_id(entity_type="incident", organization_key=organization_key, fingerprint=event.fingerprint)
    title = promotion_title(event)
    return {
        "id": transient_id(xid),
        "type": "incident",
        "external_ids": [xid],
        "source": CTIM_SOURCE,
        **_source_uri(event_url),
        "title": title,
        "description": event_description(event, title=title, event_url=event_url),
        **_short_description(event),
        "status": INCIDENT_STATUS,
        "confidence": CONFIDENCE,
        "severity": SEVERITY,
        "tlp": TLP,
        "incident_time": {
            "opened": ctim_time(promoted_at),
            "discovered": ctim_time(_observed_time(event, promoted_at)),
        },
    }


def build_relationship(
    *, organization_key: str, fingerprint: str, source_ref: str, target_ref: str, event_url: str = ""
) -> dict:
    """The CTIM relationship ``source_ref member-of target_ref`` (the event's sighting and its incident)."""
    xid = external_id(entity_type="relationship", organization_key=organization_key, fingerprint=fingerprint)
    return {
        "id": transient_id(xid),
        "type": "relationship",
        "external_ids": [xid],
        "source": CTIM_SOURCE,
        **_source_uri(event_url),
        "tlp": TLP,
        "relationship_type": RELATIONSHIP_TYPE,
        "source_ref": source_ref,
        "target_ref": target_ref,
    }


def build_event_entities(
    event: "SecurityEvent", *, organization_key: str, event_url: str, promoted_at: datetime
) -> EventEntities:
    """The sighting, incident and relationship of one promoted event, ready for a bundle."""
    sighting = build_sighting(event, organization_key=organization_key, event_url=event_url, fallback_time=promoted_at)
    incident = build_incident(event, organization_key=organization_key, event_url=event_url, promoted_at=promoted_at)
    relationship = build_relationship(
        organization_key=organization_key,
        fingerprint=event.fingerprint,
        source_ref=sighting["id"],
        target_ref=incident["id"],
        event_url=event_url,
    )
    return EventEntities(
        sighting=sighting,
        incident=incident,
        relationship=relationship,
        sighting_external_id=sighting["external_ids"][0],
        incident_external_id=incident["external_ids"][0],
        relationship_external_id=relationship["external_ids"][0],
    )


def build_bundles(
    entities: Iterable[EventEntities], *, max_entities: int = DEFAULT_BUNDLE_MAX_ENTITIES
) -> Iterator[dict]:
    """Bundles for ``POST /ctia/bundle/import``, each of at most ``max_entities`` entities.

    An object whose external id was already given (in this bundle or an earlier one) is left out: CTIA creates
    two when one bundle holds the same external id twice. An event's objects always share a bundle, so the
    relationship's transient refs resolve.
    """
    if not ENTITIES_PER_EVENT <= max_entities <= CTIA_BUNDLE_MAX_ENTITIES:
        raise ValueError(f"max_entities must be from {ENTITIES_PER_EVENT} to {CTIA_BUNDLE_MAX_ENTITIES}")
    seen: set[str] = set()
    bundle, size = _empty_bundle(), 0
    for event_entities in entities:
        fresh = [(array, xid, entity) for array, xid, entity in event_entities.parts if xid not in seen]
        if not fresh:
            continue
        if size + len(fresh) > max_entities:
            yield bundle
            bundle, size = _empty_bundle(), 0
        for array, xid, entity in fresh:
            seen.add(xid)
            bundle[array].append(entity)
        size += len(fresh)
    if size:
        yield bundle


def cut(text: str, limit: int) -> str:
    """The text when it is at most ``limit`` UTF-16 code units (as CTIA counts), else its start and "…"."""
    if _utf16_length(text) <= limit:
        return text
    units = 0
    for index, character in enumerate(text):
        units += 2 if ord(character) > 0xFFFF else 1
        if units > limit - len(ELLIPSIS):
            head = text[:index]
            break
    # A cut right after an escaping backslash would make it escape the ellipsis instead.
    if (len(head) - len(head.rstrip("\\"))) % 2:
        head = head[:-1]
    return head + ELLIPSIS


def _empty_bundle() -> dict:
    return {"type": "bundle", "source": CTIM_SOURCE, "sightings": [], "incidents": [], "relationships": []}


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _observable(kind: str, value: str) -> dict | None:
    value = one_line(value)
    if not value or len(value) > OBSERVABLE_VALUE_MAX:
        return None
    return {"type": kind, "value": value}


def _ip_observable(value: str) -> dict | None:
    try:
        address = ipaddress.ip_address(one_line(value))
    except ValueError:
        return None
    return {"type": "ip" if address.version == 4 else "ipv6", "value": address.compressed}


def _hash_observable(value: str) -> dict | None:
    value = one_line(value).lower()
    kind = _HASH_TYPES.get(len(value))
    return {"type": kind, "value": value} if kind and _HEX.fullmatch(value) else None


def _unique(observables: list[dict | None]) -> list[dict]:
    unique: list[dict] = []
    for observable in observables:
        if observable is not None and observable not in unique:
            unique.append(observable)
    return unique


def _observed_time(event: "SecurityEvent", fallback: datetime | None) -> datetime:
    observed = event.ts or getattr(event, "created_at", None) or fallback
    if observed is None:
        raise ValueError(f"event {event.fingerprint} has no time, and no fallback time was given")
    return observed


def _is_blocked(event: "SecurityEvent") -> bool:
    return event.blocked is True or one_line(event.action).casefold() == "blocked"


def _action(event: "SecurityEvent") -> str:
    if action := one_line(event.action):
        return action
    return {True: "Blocked", False: "Not blocked"}.get(event.blocked, "")


def _source_uri(event_url: str) -> dict:
    return {"source_uri": cut(event_url, SOURCE_URI_MAX)} if event_url else {}


def _short_description(event: "SecurityEvent") -> dict:
    return {"short_description": text} if (text := short_description(event)) else {}
