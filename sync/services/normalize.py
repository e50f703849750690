"""Turn one raw Meraki security event into typed, database-safe fields.

The security-events API declares no schema, only an example, so any field may be missing, of another type
or malformed, and the page array may even hold non-objects. Normalising therefore never raises: every problem
is written to ``parse_error`` and the event is still stored, so nothing an appliance reported is dropped.
No Django imports, so these rules are tested without a database.
"""

import hashlib
import ipaddress
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter

FIELD_MAX_LENGTHS: dict[str, int] = {
    "event_type": 128,
    "classification": 128,
    "src_ip": 45,
    "dest_ip": 45,
    "protocol": 64,
    "client_mac": 17,
    "client_name": 255,
    "client_ip": 45,
    "device_mac": 17,
    "uri": 2048,
    "canonical_name": 255,
    "file_hash": 128,
    "file_type": 64,
    "disposition": 64,
    "action": 64,
    "message": 1024,
    "signature": 255,
    "rule_id": 255,
}

# Plain text fields: model field -> Meraki key. eventType (required) and fileHash (lower-cased) come apart.
_TEXT_FIELDS = {
    "classification": "classification",
    "protocol": "protocol",
    "client_name": "clientName",
    "uri": "uri",
    "canonical_name": "canonicalName",
    "file_type": "fileType",
    "disposition": "disposition",
    "action": "action",
    "message": "message",
    "signature": "signature",
    "rule_id": "ruleId",
}

# PostgreSQL text and jsonb cannot hold NUL, and UTF-8 cannot encode a surrogate that is not part of a pair.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAC = re.compile(r"[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}")
_BRACKETED = re.compile(r"\[([^\]]*)\](?::([^:]*))?")
# Bounded so a megabyte of digits is refused before int() is asked to convert it.
_DIGITS = re.compile(r"[0-9]{1,10}")
_BOOLEANS = {"true": True, "false": False}
_QUOTE_CHARS = 60
_MAX_PORT = 65535
# Snort priorities are small; the bound keeps any value inside a small-integer column.
_MAX_PRIORITY = 32767
# Meraki events are flat. The bound keeps raw storable: Django serialises JSON recursively, and a value nested
# almost as deep as json.loads allows would overflow the stack when saved.
_MAX_RAW_DEPTH = 32

_RAW_NUL = "raw contained NUL characters (replaced)"
_RAW_SURROGATE = "raw contained lone surrogates (replaced)"
_RAW_NON_FINITE = "raw contained non-finite numbers (stored as strings)"
_RAW_NON_JSON = "raw contained non-JSON values (stored as text)"
_RAW_TOO_DEEP = f"raw nested deeper than {_MAX_RAW_DEPTH} levels (deeper parts stored as JSON text)"


@dataclass(frozen=True)
class NormalizedEvent:
    """One security event ready to store: database-safe raw JSON, its fingerprint, typed fields and problems.

    Typed fields default to empty ("" or None) so an event that is not a JSON object still yields a row.
    """

    raw: object
    fingerprint: str
    parse_error: str
    ts: datetime | None = None
    event_type: str = ""
    priority: int | None = None
    classification: str = ""
    src_ip: str = ""
    src_port: int | None = None
    dest_ip: str = ""
    dest_port: int | None = None
    protocol: str = ""
    client_mac: str = ""
    client_name: str = ""
    client_ip: str = ""
    device_mac: str = ""
    uri: str = ""
    canonical_name: str = ""
    file_hash: str = ""
    file_type: str = ""
    disposition: str = ""
    action: str = ""
    blocked: bool | None = None
    message: str = ""
    signature: str = ""
    rule_id: str = ""


def normalize_event(raw: object) -> NormalizedEvent:
    """Normalise one element of a security-events page; never raises, whatever the element is."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        problems.append(f"event is not a JSON object (got {type(raw).__name__})")
    raw_problems: set[str] = set()
    safe_raw = _db_safe(raw, raw_problems)
    problems += sorted(raw_problems)
    fields = _typed_fields(raw, problems) if isinstance(raw, dict) else {}
    return NormalizedEvent(raw=safe_raw, fingerprint=fingerprint(raw), parse_error="; ".join(problems), **fields)


def fingerprint(raw: object) -> str:
    """SHA-256 hex of the event as received, in canonical JSON, so a re-fetched event is recognised.

    Keys are sorted, so key order does not matter; any value change gives another fingerprint. It is taken
    before NUL characters or NaN are made storable, so it does not depend on those repairs.
    """
    try:
        text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    except (RecursionError, TypeError, ValueError):  # too deep, or not JSON: the slower writer that copes
        text = "".join(_canonical_json(raw))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


class _Text(str):
    """JSON text already written, as opposed to a value still to be written, on the serialiser's stack."""


def _canonical_json(value: object) -> Iterator[str]:
    """Yield ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)`` in pieces.

    An explicit stack instead of json.dumps itself: json.loads accepts nesting almost as deep as the recursion
    limit, so json.dumps called further down a call stack could raise on a value that parsed. ensure_ascii
    keeps lone surrogates encodable. Values no JSON document can hold (sets, bytes, non-string keys) are
    written as their type name or JSON text, so a stray Python object cannot break ingestion.
    """
    pending: list[object] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, _Text):
            yield item
        elif isinstance(item, dict):
            entries = sorted(((_key_text(key), child) for key, child in item.items()), key=itemgetter(0))
            parts: list[object] = [_Text("{")]
            for index, (key, child) in enumerate(entries):
                parts += [_Text(("," if index else "") + json.dumps(key) + ":"), child]
            pending += reversed([*parts, _Text("}")])
        elif isinstance(item, list | tuple):
            parts = [_Text("[")]
            for index, child in enumerate(item):
                if index:
                    parts.append(_Text(","))
                parts.append(child)
            pending += reversed([*parts, _Text("]")])
        else:
            yield _scalar_json(item) or json.dumps(_type_name(item))


def _scalar_json(value: object) -> str | None:
    """JSON text of a string, number, boolean or null; None for anything a JSON document cannot hold."""
    if value is None or isinstance(value, str | int | float):
        try:
            return json.dumps(value)
        except ValueError:  # an int too long to print, which json.loads itself would have refused
            return None
    return None


def _key_text(key: object) -> str:
    # json.dumps writes number, boolean and null keys as their JSON text; anything else gets its type name.
    if isinstance(key, str):
        return key
    return _scalar_json(key) or _type_name(key)


def _type_name(value: object) -> str:
    return f"<{type(value).__name__}>"


def _db_safe(value: object, problems: set[str], depth: int = 0) -> object:
    """Copy ``value`` into something PostgreSQL jsonb accepts, noting in ``problems`` each kind of change."""
    if isinstance(value, str):
        return _storable_text(value, problems)
    if isinstance(value, float) and not math.isfinite(value):
        problems.add(_RAW_NON_FINITE)
        return json.dumps(value)  # "NaN", "Infinity" or "-Infinity", as JSON parsers spell them
    if isinstance(value, dict | list | tuple) and depth >= _MAX_RAW_DEPTH:
        problems.add(_RAW_TOO_DEEP)
        return "".join(_canonical_json(value))
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            problems.add(_RAW_NON_JSON)
        return {
            _storable_text(_key_text(key), problems): _db_safe(child, problems, depth + 1)
            for key, child in value.items()
        }
    if isinstance(value, list | tuple):
        return [_db_safe(child, problems, depth + 1) for child in value]
    if _scalar_json(value) is None:
        problems.add(_RAW_NON_JSON)
        return _type_name(value)
    return value


def _storable_text(text: str, problems: set[str]) -> str:
    if "\x00" in text:
        problems.add(_RAW_NUL)
    if _SURROGATE.search(text):
        problems.add(_RAW_SURROGATE)
    return _UNSTORABLE.sub("\ufffd", text)


def _typed_fields(event: dict, problems: list[str]) -> dict[str, object]:
    """The typed fields of an event object, appending a message to ``problems`` for each value refused."""
    fields: dict[str, object] = {"ts": _timestamp(event.get("ts"), problems)}
    if _is_absent(event.get("eventType")):
        problems.append("missing eventType")
    fields["event_type"] = _text(event, "eventType", "event_type", problems)
    fields["priority"] = _integer(event, "priority", _MAX_PRIORITY, problems)
    fields["src_ip"], fields["src_port"] = _address(event, "srcIp", problems)
    fields["dest_ip"], fields["dest_port"] = _address(event, "destIp", problems)
    if fields["dest_port"] is None:
        # File Scanned events give a bare destIp and the port in its own integer field.
        fields["dest_port"] = _integer(event, "destinationPort", _MAX_PORT, problems)
    fields["client_ip"], _ = _address(event, "clientIp", problems, port_allowed=False)
    fields["client_mac"] = _mac(event, "clientMac", problems)
    fields["device_mac"] = _mac(event, "deviceMac", problems)
    fields["blocked"] = _boolean(event, "blocked", problems)
    for field, key in _TEXT_FIELDS.items():
        fields[field] = _text(event, key, field, problems)
    fields["file_hash"] = _text(event, "fileHash", "file_hash", problems).lower()
    return fields


def _is_absent(value: object) -> bool:
    # An empty string is how Meraki says "nothing here" (sigSource is ""), so it counts as missing.
    return value is None or (isinstance(value, str) and not value)


def _timestamp(value: object, problems: list[str]) -> datetime | None:
    """ISO 8601 (as Meraki sends it) or epoch seconds, as an aware UTC datetime."""
    if _is_absent(value):
        problems.append("missing ts")
        return None
    try:
        # fromisoformat stops reading at a NUL in some positions, accepting "...Z\x00junk", so refuse NUL.
        if isinstance(value, str) and "\x00" not in value:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                problems.append(f"naive ts {_describe(value)} (assumed UTC)")
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):  # unparseable, or outside the years datetime can hold
        pass
    problems.append(f"malformed ts {_describe(value)}")
    return None


def _text(event: dict, key: str, field: str, problems: list[str]) -> str:
    """A text field: strings as-is, numbers and booleans as their JSON text, truncated to the column."""
    value = event.get(key)
    if value is None:
        return ""
    text = value if isinstance(value, str) else _scalar_json(value)
    if text is None:
        problems.append(f"invalid {key} {_describe(value)}")
        return ""
    # Truncating first keeps a megabyte-long value cheap; the replacement is one character for one.
    return _UNSTORABLE.sub("\ufffd", text[: FIELD_MAX_LENGTHS[field]])


def _integer(event: dict, key: str, maximum: int, problems: list[str]) -> int | None:
    """A non-negative integer up to ``maximum``, sent as a number or (as the API does) a numeric string."""
    value = event.get(key)
    if _is_absent(value):
        return None
    number = _bounded_int(value, maximum)
    if number is None:
        problems.append(f"invalid {key} {_describe(value)}")
    return number


def _bounded_int(value: object, maximum: int) -> int | None:
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= maximum:
        return value
    return None


def _address(event: dict, key: str, problems: list[str], *, port_allowed: bool = True) -> tuple[str, int | None]:
    value = event.get(key)
    if _is_absent(value):
        return "", None
    parsed = parse_address(value, port_allowed=port_allowed) if isinstance(value, str) else None
    if parsed is None:
        problems.append(f"invalid {key} {_describe(value)}")
        return "", None
    return parsed


def parse_address(value: str, *, port_allowed: bool = True) -> tuple[str, int | None] | None:
    """Compressed address and port from ``1.2.3.4[:80]``, ``[2001:db8::1][:443]`` or ``2001:db8::1``.

    Only a value with exactly one colon is split as IPv4 ``host:port``: a bare IPv6 address has several, and
    splitting it on the last one would turn its final group into a port.
    """
    if match := _BRACKETED.fullmatch(value):
        host, port = match[1], match[2]
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return None  # a zone index ("fe80::1%eth0") names an interface on the appliance, not a host
    if port is None:
        return address.compressed, None
    port_number = _bounded_int(port, _MAX_PORT) if port_allowed else None
    return None if port_number is None else (address.compressed, port_number)


def _mac(event: dict, key: str, problems: list[str]) -> str:
    """A MAC address as lower-case, colon-separated pairs (the API sends either case)."""
    value = event.get(key)
    if _is_absent(value):
        return ""
    if isinstance(value, str) and _MAC.fullmatch(value):
        return value.lower().replace("-", ":")
    problems.append(f"invalid {key} {_describe(value)}")
    return ""


def _boolean(event: dict, key: str, problems: list[str]) -> bool | None:
    value = event.get(key)
    if _is_absent(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOLEANS:
        return _BOOLEANS[value.lower()]
    problems.append(f"invalid {key} {_describe(value)}")
    return None


def _describe(value: object) -> str:
    """A bad value for parse_error: short, printable (repr escapes NUL) and never the whole payload."""
    if isinstance(value, str):
        shown, cut = repr(value[:_QUOTE_CHARS]), len(value) > _QUOTE_CHARS
    elif (text := _scalar_json(value)) is not None:
        shown, cut = text[:_QUOTE_CHARS], len(text) > _QUOTE_CHARS
    else:
        return f"of type {type(value).__name__}"
    return shown + "..." if cut else shown
