"""CTIA semantics of the simulated Threat Response on top of `CtiaEntity`: tokens, create, find, bundle import.

Simulated API clients are registered with `sync.simulator.setup.create_threat_response_client`.

Views stay thin; everything here takes plain values (the caller's client id and the absolute `.../ctia` URL that
long ids are built on) so tests and the demo can call it without HTTP.

Behaviour kept on purpose, because the product must cope with it on the real service (notes Part A3):
- bundle import matches `external_ids` only against entities stored *before* the import: two entities with the
  same XID in one bundle are both created, and two concurrent imports can both create;
- an entity that matches is reported `exists` with the stored id and is never modified;
- entities without any (candidate) XID are always created.
Simplifications: one tenant (every simulated client sees every entity); times are stored as sent, not
re-rendered; `?wait_for` is accepted and ignored (everything is visible at once).
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core import signing
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from sync.simulator.models import CtiaEntity, SimulatedThreatResponseClient, digest
from sync.simulator.threatresponse import ctim

SIGNING_SALT = "sync.simulator.threatresponse.access"  # signs bearer tokens; not a secret
TOKEN_LIFETIME = 600  # seconds, as IROH's `expires_in`
GRANTED_SCOPE = "private-intel"
MAX_BUNDLE_ENTITIES = 2000  # ctia.http.bulk.max-size, OSS default
SUPPORTED_BUNDLE_ARRAYS = {"sightings": "sighting", "incidents": "incident", "relationships": "relationship"}
SPECIFY_ID_MESSAGE = "Missing capability to specify entity ID"
_XID_QUERY_CHUNK = 200  # CTIA's find-by-external-ids page size


class InvalidEntityError(Exception):
    """The payload is not a valid CTIM entity (HTTP 400)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class SpecifiedIdError(Exception):
    """The payload carries its own `id`, which needs the specify-id capability no simulated client has (HTTP 403)."""

    def __init__(self) -> None:
        super().__init__(SPECIFY_ID_MESSAGE)


class BundleTooLargeError(Exception):
    """More entities than `ctia.http.bulk.max-size` in one bundle (HTTP 400)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"Bundle max nb of entities: {MAX_BUNDLE_ENTITIES}")
        self.size = size


# --- API clients and tokens --------------------------------------------------------------------------------------


def authenticate_client(*, client_id: str, client_secret: str) -> SimulatedThreatResponseClient | None:
    client = SimulatedThreatResponseClient.objects.filter(client_id=client_id).first()
    if client is None or not hmac.compare_digest(client.client_secret_sha256, digest(client_secret)):
        return None
    return client


class _TokenSigner(signing.TimestampSigner):
    """A TimestampSigner whose issue time can be injected (tests of expiry)."""

    def __init__(self, *, issued_at: float | None = None) -> None:
        super().__init__(salt=SIGNING_SALT)
        self._issued_at = issued_at

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time() if self._issued_at is None else self._issued_at))


def issue_token(*, client_id: str, issued_at: float | None = None) -> str:
    """A stateless bearer token for `client_id`, valid TOKEN_LIFETIME seconds in every process sharing SECRET_KEY."""
    return _TokenSigner(issued_at=issued_at).sign_object({"client_id": client_id})


def client_id_for_token(token: str) -> str | None:
    """The client id a valid, unexpired token was issued to, else None."""
    try:
        payload = _TokenSigner().unsign_object(token, max_age=TOKEN_LIFETIME)
    except (signing.BadSignature, ValueError):
        return None
    client_id = payload.get("client_id") if isinstance(payload, dict) else None
    return client_id if isinstance(client_id, str) and client_id else None


def token_response(*, client_id: str) -> dict[str, Any]:
    return {
        "access_token": issue_token(client_id=client_id),
        "token_type": "bearer",
        "expires_in": TOKEN_LIFETIME,
        "scope": GRANTED_SCOPE,
    }


# --- entities ---------------------------------------------------------------------------------------------------


def _render_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_long_id(*, ctia_base: str, entity_type: str) -> str:
    return f"{ctia_base.rstrip('/')}/{entity_type}/{entity_type}-{uuid.uuid4()}"


def _group_for(client_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"simulated-threatresponse-org:{client_id}"))


def _realize(*, entity_type: str, payload: dict, entity_id: str, client_id: str, now: datetime) -> CtiaEntity:
    """The stored form of a valid New* payload: what CTIA's `default-realize` adds around the input."""
    body = {key: value for key, value in payload.items() if key != "id"}
    stamp = _render_time(now)
    body.update(
        id=entity_id,
        type=entity_type,
        schema_version=ctim.SCHEMA_VERSION,
        owner=client_id,
        groups=[_group_for(client_id)],
        client_id=client_id,
        created=stamp,
        modified=stamp,
    )
    body.setdefault("timestamp", stamp)
    body.setdefault("tlp", ctim.DEFAULT_TLP)
    if entity_type == "sighting":
        body.setdefault("count", 1)
        body.setdefault("confidence", "Unknown")
    return CtiaEntity(
        entity_type=entity_type,
        entity_id=entity_id,
        external_ids=list(payload.get("external_ids", [])),
        body=body,
        client_id=client_id,
    )


def create_entity(
    *, entity_type: str, payload: Any, client_id: str, ctia_base: str, now: datetime | None = None
) -> CtiaEntity:
    """POST /ctia/<type>: validate, refuse a caller-chosen id, store with a new long id under `ctia_base`.

    Raises InvalidEntityError (400) or SpecifiedIdError (403), in CTIA's order: schema first, capability second.
    Transient refs mean nothing outside a bundle, so a relationship carrying one is refused here.
    """
    errors = ctim.validate(entity_type, payload)
    if not errors and entity_type == "relationship":
        errors = [
            f"{key}: transient ids are only resolved inside a bundle import (got {payload[key]!r})"
            for key in ("source_ref", "target_ref")
            if ctim.is_transient_id(payload[key])
        ]
    if errors:
        raise InvalidEntityError(errors)
    if "id" in payload:
        raise SpecifiedIdError()
    entity = _realize(
        entity_type=entity_type,
        payload=payload,
        entity_id=_new_long_id(ctia_base=ctia_base, entity_type=entity_type),
        client_id=client_id,
        now=now or timezone.now(),
    )
    entity.save()
    return entity


def get_entity(*, entity_type: str, entity_id: str) -> CtiaEntity | None:
    """The entity of that type by short id (`sighting-<uuid>`) or long id, whatever host the long id names."""
    short = ctim.short_id(entity_id)
    if not ctim.SHORT_ID_RE.fullmatch(short) or not short.startswith(f"{entity_type}-"):
        return None
    return (
        CtiaEntity.objects.filter(entity_type=entity_type, entity_id__endswith=f"/ctia/{entity_type}/{short}")
        .order_by("id")
        .first()
    )


def _with_external_ids(entity_type: str, external_ids: Iterable[str]) -> dict[str, CtiaEntity]:
    """For each XID, the oldest stored entity of that type carrying it (CTIA takes the first match)."""
    wanted = set(external_ids)
    found: dict[str, CtiaEntity] = {}
    if not wanted:
        return found
    entities = CtiaEntity.objects.filter(entity_type=entity_type).order_by("id")
    if connection.features.supports_json_field_contains:
        chunks = sorted(wanted)
        candidates: list[CtiaEntity] = []
        for start in range(0, len(chunks), _XID_QUERY_CHUNK):
            query = Q()
            for xid in chunks[start : start + _XID_QUERY_CHUNK]:
                query |= Q(external_ids__contains=[xid])
            candidates.extend(entities.filter(query))
        candidates.sort(key=lambda entity: entity.pk)
    else:  # SQLite has no JSON containment: scan this type's entities once
        candidates = entities.iterator()
    for entity in candidates:
        for xid in entity.external_ids:
            if xid in wanted and xid not in found:
                found[xid] = entity
    return found


def find_by_external_id(*, entity_type: str, external_id: str) -> list[CtiaEntity]:
    """GET /ctia/<type>/external_id/<xid>: every entity of that type carrying the XID, oldest first."""
    entities = CtiaEntity.objects.filter(entity_type=entity_type).order_by("id")
    if connection.features.supports_json_field_contains:
        return list(entities.filter(external_ids__contains=[external_id]))
    return [entity for entity in entities.iterator() if external_id in entity.external_ids]


# --- bundle import ----------------------------------------------------------------------------------------------


@dataclass
class _Planned:
    """One bundle entity on its way to a result."""

    entity_type: str
    payload: Any
    candidate_xids: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    to_create: CtiaEntity | None = None


def bundle_size(bundle: dict) -> int:
    return sum(len(bundle[key]) for key in ctim.BUNDLE_ENTITY_ARRAYS if isinstance(bundle.get(key), list))


def _candidate_xids(payload: Any, prefixes: list[str] | None) -> list[str]:
    xids = payload.get("external_ids", []) if isinstance(payload, dict) else []
    if not isinstance(xids, list):
        return []
    xids = [xid for xid in xids if isinstance(xid, str)]
    if prefixes:
        xids = [xid for xid in xids if any(xid.startswith(prefix) for prefix in prefixes)]
    return xids


def _error(planned: _Planned, message: str) -> None:
    planned.result.update(result="error", error=message)
    planned.result.pop("id", None)


def import_bundle(
    *,
    bundle: Any,
    client_id: str,
    ctia_base: str,
    external_key_prefixes: list[str] | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """POST /ctia/bundle/import: one result per entity, `created`, `exists` or `error`, as CTIA's bundle core.

    Raises InvalidEntityError (400) for a malformed envelope and BundleTooLargeError (400) above 2000 entities.
    Only sightings, incidents and relationships are imported; an entity in any other array is an `error`
    result ("not supported by the simulator"), so a product sending one notices.
    Results come in the order sightings, incidents, relationships, other arrays; match them by `original_id`.
    """
    errors = ctim.validate_bundle(bundle)
    if errors:
        raise InvalidEntityError(errors)
    size = bundle_size(bundle)
    if size > MAX_BUNDLE_ENTITIES:
        raise BundleTooLargeError(size)
    now = now or timezone.now()

    planned: list[_Planned] = []
    for key, entity_type in SUPPORTED_BUNDLE_ARRAYS.items():
        for payload in bundle.get(key, []):
            item = _Planned(entity_type, payload, _candidate_xids(payload, external_key_prefixes))
            item.result = {"type": entity_type, "external_ids": item.candidate_xids}
            if isinstance(payload.get("id"), str):
                item.result["original_id"] = payload["id"]
            planned.append(item)
            errors = ctim.validate(entity_type, payload)
            if errors:
                _error(item, "; ".join(errors))
            elif "id" in payload and not ctim.is_transient_id(payload["id"]):
                _error(item, f"{SPECIFY_ID_MESSAGE}: use a transient: id inside a bundle (got {payload['id']!r})")

    # Match against the store as it was before this import, per type.
    for entity_type in SUPPORTED_BUNDLE_ARRAYS.values():
        pending = [p for p in planned if p.entity_type == entity_type and p.result.get("result") != "error"]
        existing = _with_external_ids(entity_type, (xid for p in pending for xid in p.candidate_xids))
        for item in pending:
            match = next((existing[xid] for xid in item.candidate_xids if xid in existing), None)
            if match is not None:
                item.result.update(result="exists", id=match.entity_id)
            else:
                item.result.update(result="created", id=_new_long_id(ctia_base=ctia_base, entity_type=entity_type))

    tempids = {
        p.result["original_id"]: p.result["id"]
        for p in planned
        if p.result["result"] != "error" and ctim.is_transient_id(p.result.get("original_id"))
    }
    for item in planned:
        if item.result["result"] != "created":
            continue
        payload = dict(item.payload)
        if item.entity_type == "relationship":
            unknown = [payload[key] for key in ("source_ref", "target_ref") if ctim.is_transient_id(payload[key])]
            unresolved = [ref for ref in unknown if ref not in tempids]
            if unresolved:
                _error(item, f"Unresolvable transient id(s) in this bundle: {', '.join(unresolved)}")
                continue
            for key in ("source_ref", "target_ref"):
                payload[key] = tempids.get(payload[key], payload[key])
        item.to_create = _realize(
            entity_type=item.entity_type, payload=payload, entity_id=item.result["id"], client_id=client_id, now=now
        )

    with transaction.atomic():
        CtiaEntity.objects.bulk_create([p.to_create for p in planned if p.to_create is not None])

    results = [p.result for p in planned]
    for key, entity_type in ctim.BUNDLE_ENTITY_ARRAYS.items():
        if key in SUPPORTED_BUNDLE_ARRAYS:
            continue
        for payload in bundle.get(key, []):
            result = {"type": entity_type, "external_ids": _candidate_xids(payload, external_key_prefixes)}
            if isinstance(payload.get("id"), str):
                result["original_id"] = payload["id"]
            result.update(result="error", error=f"{entity_type} entities are not supported by the simulator")
            results.append(result)
    return results
