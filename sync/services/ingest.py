"""Sync one organization: read its security events for a window and store each one once.

Nothing lost: the window starts at the committed cursor minus an overlap, and the cursor moves only after every
page was stored. Nothing twice: events are unique per organization by fingerprint, so re-reading is harmless.
"""

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from django.conf import settings
from django.db import reset_queries, transaction
from django.db.models import F
from django.utils import timezone

from sync import metrics
from sync.clients.errors import ApiError
from sync.clients.meraki import MerakiClient
from sync.models import (
    EventHourlyCount,
    NotificationStatus,
    Organization,
    PromotionStatus,
    SecurityEvent,
    SyncRun,
)
from sync.services.leases import acquire_lease, release_lease, renew_lease
from sync.services.normalize import NormalizedEvent, normalize_event
from sync.services.organizations import OrganizationConfigError, build_meraki_client
from sync.services.rules import is_eligible

logger = logging.getLogger(__name__)

# Meraki refuses t0 older than 365 days; keep a margin for the time the request takes to arrive.
MERAKI_MAX_LOOKBACK = timedelta(days=365) - timedelta(minutes=5)
INSERT_BATCH_SIZE = 500

ClientFactory = Callable[..., MerakiClient]


class StoreError(Exception):
    """The database did not take every event of a page; the run fails so its window is read again."""


class LeaseLostError(Exception):
    """Our lease expired and another run took the organization over; stop without moving the cursor."""


@dataclass(frozen=True)
class StoreResult:
    created: int
    duplicates: int
    malformed: int


def sync_window(
    *, organization: Organization, now: datetime, since: datetime | timedelta | None = None
) -> tuple[datetime, datetime]:
    """The (t0, t1) to read: from the cursor minus the overlap (first run: now - initial lookback) up to now."""
    if isinstance(since, datetime):
        t0 = since
    elif isinstance(since, timedelta):
        t0 = now - since
    elif organization.sync_cursor is not None:
        t0 = organization.sync_cursor - organization.overlap
    else:
        t0 = now - organization.initial_lookback
    t0 = min(max(t0, now - MERAKI_MAX_LOOKBACK), now)
    return t0, now


def store_events(*, organization: Organization, run: SyncRun, raw_events: Iterable[object]) -> StoreResult:
    """Normalize and insert one page; events already stored (same fingerprint) count as duplicates."""
    unique: dict[str, NormalizedEvent] = {}
    fetched = malformed = 0
    for raw in raw_events:
        event = normalize_event(raw)
        fetched += 1
        malformed += bool(event.parse_error)
        unique.setdefault(event.fingerprint, event)

    created = 0
    for batch in _chunks(unique.values(), INSERT_BATCH_SIZE):
        fingerprints = [event.fingerprint for event in batch]
        with transaction.atomic():
            existing = set(
                SecurityEvent.objects.filter(organization=organization, fingerprint__in=fingerprints).values_list(
                    "fingerprint", flat=True
                )
            )
            new_events = [event for event in batch if event.fingerprint not in existing]
            SecurityEvent.objects.bulk_create(
                [_event_row(organization, run, event) for event in new_events], ignore_conflicts=True
            )
            _count_by_hour(organization, run, new_events)
        # ignore_conflicts hides which rows went in (and SQLite's INSERT OR IGNORE would even hide a rejected
        # row), so count: every fingerprint of the batch must now be stored, and ours are the ones we created.
        stored = SecurityEvent.objects.filter(organization=organization, fingerprint__in=fingerprints)
        if stored.count() != len(batch):
            raise StoreError(f"{len(batch) - stored.count()} event(s) of a page could not be stored")
        created += stored.filter(first_seen_run=run).count()
    return StoreResult(created=created, duplicates=fetched - created, malformed=malformed)


def _count_by_hour(organization: Organization, run: SyncRun, events: list[NormalizedEvent]) -> None:
    """Add new events to the hourly counts (safe without locking rows: one sync per organization at a time)."""
    counts = Counter(
        ((event.ts or run.started_at).replace(minute=0, second=0, microsecond=0), event.event_type) for event in events
    )
    for (hour, event_type), count in counts.items():
        updated = EventHourlyCount.objects.filter(organization=organization, hour=hour, event_type=event_type).update(
            count=F("count") + count
        )
        if not updated:
            EventHourlyCount.objects.create(organization=organization, hour=hour, event_type=event_type, count=count)


def _chunks(items: Iterable[NormalizedEvent], size: int) -> Iterator[list[NormalizedEvent]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _event_row(organization: Organization, run: SyncRun, event: NormalizedEvent) -> SecurityEvent:
    eligible = is_eligible(event, organization=organization)
    return SecurityEvent(
        organization=organization,
        promotion_status=PromotionStatus.PENDING if eligible else PromotionStatus.NOT_ELIGIBLE,
        notification_status=NotificationStatus.PENDING if eligible else NotificationStatus.NOT_ELIGIBLE,
        first_seen_run=run,
        fingerprint=event.fingerprint,
        raw=event.raw,
        parse_error=event.parse_error,
        ts=event.ts or run.started_at,  # lists stay ordered by time; parse_error and raw keep what was wrong
        event_type=event.event_type,
        priority=event.priority,
        classification=event.classification,
        src_ip=event.src_ip,
        src_port=event.src_port,
        dest_ip=event.dest_ip,
        dest_port=event.dest_port,
        protocol=event.protocol,
        client_mac=event.client_mac,
        client_name=event.client_name,
        client_ip=event.client_ip,
        device_mac=event.device_mac,
        uri=event.uri,
        canonical_name=event.canonical_name,
        file_hash=event.file_hash,
        file_type=event.file_type,
        disposition=event.disposition,
        action=event.action,
        blocked=event.blocked,
        message=event.message,
        signature=event.signature,
        rule_id=event.rule_id,
    )


def sync_organization(
    *,
    organization_id: int,
    trigger: str = SyncRun.Trigger.SCHEDULE,
    since: datetime | timedelta | None = None,
    now: datetime | None = None,
    client_factory: ClientFactory = build_meraki_client,
) -> SyncRun:
    """Run one sync of one organization and return its SyncRun (skipped when another sync holds the lease).

    Failures the operator can act on (bad key, no access, Meraki down, bad pagination) end the run as failed
    with a clear message on the run and the organization; they are not raised.
    """
    started = timezone.now()
    # The window's clock (injectable), in whole seconds: Meraki takes t0/t1 to the second, so the cursor must not
    # claim a sub-second sliver.
    now = (now or started).replace(microsecond=0)
    organization = Organization.objects.get(pk=organization_id)
    owner = uuid.uuid4().hex
    lease_timeout = settings.SYNC_LEASE_TIMEOUT
    if not acquire_lease(organization_id=organization.pk, owner=owner, now=now, timeout=lease_timeout):
        logger.info("sync skipped org=%s: another sync holds the lease", organization.pk)
        skipped = SyncRun.objects.create(
            organization=organization,
            trigger=trigger,
            started_at=started,
            finished_at=started,
            status=SyncRun.Status.SKIPPED,
            error="skipped: another sync of this organization is running",
        )
        metrics.record_sync_run(skipped)
        return skipped
    try:
        _fail_abandoned_runs(organization=organization, now=now)
        t0, t1 = sync_window(organization=organization, now=now, since=since)
        _start_cursor(organization=organization, owner=owner, t0=t0)
        run = SyncRun.objects.create(organization=organization, trigger=trigger, started_at=started, t0=t0, t1=t1)
        logger.info("sync started org=%s run=%s window=%s..%s", organization.pk, run.pk, t0, t1)
        client = None
        try:
            client = client_factory(organization=organization)
            for page in client.iter_security_event_pages(org_id=organization.meraki_org_id, t0=t0, t1=t1):
                result = store_events(organization=organization, run=run, raw_events=page)
                run.pages += 1
                run.fetched += len(page)
                run.created += result.created
                run.duplicates += result.duplicates
                run.malformed += result.malformed
                run.rate_limited = client.rate_limited
                run.save(update_fields=["pages", "fetched", "created", "duplicates", "malformed", "rate_limited"])
                reset_queries()  # with DEBUG on, Django keeps every query's SQL: a long run would pile them up
                if not renew_lease(
                    organization_id=organization.pk, owner=owner, now=timezone.now(), timeout=lease_timeout
                ):
                    raise LeaseLostError("the sync lease expired and another sync took over; nothing committed")
            _advance_cursor(organization=organization, owner=owner, since=since, t0=t0, t1=t1)
            run.status = SyncRun.Status.SUCCEEDED
        except (ApiError, OrganizationConfigError, LeaseLostError, StoreError) as exc:
            run.status, run.error = SyncRun.Status.FAILED, str(exc)
        except Exception as exc:
            logger.exception("sync crashed org=%s run=%s", organization.pk, run.pk)
            run.status = SyncRun.Status.FAILED
            run.error = f"internal error ({type(exc).__name__}); the worker log has the details"
        run.rate_limited = client.rate_limited if client is not None else run.rate_limited
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "rate_limited", "finished_at"])
        Organization.objects.filter(pk=organization.pk).update(
            last_sync_status=run.status, last_sync_at=run.finished_at, last_sync_error=run.error
        )
        log = logger.info if run.status == SyncRun.Status.SUCCEEDED else logger.warning
        log(
            "sync %s org=%s run=%s pages=%s fetched=%s created=%s duplicates=%s rate_limited=%s error=%s",
            run.status, organization.pk, run.pk, run.pages, run.fetched, run.created, run.duplicates,
            run.rate_limited, run.error or "-",
        )  # fmt: skip
        metrics.record_sync_run(run)
        return run
    finally:
        release_lease(organization_id=organization.pk, owner=owner)


def _start_cursor(*, organization: Organization, owner: str, t0: datetime) -> None:
    """Pin a first run's window start, so a retry after it fails still reads from there, not from its own now."""
    if organization.sync_cursor is None:
        Organization.objects.filter(pk=organization.pk, lease_owner=owner, sync_cursor__isnull=True).update(
            sync_cursor=t0
        )
        organization.sync_cursor = t0


def _advance_cursor(
    *, organization: Organization, owner: str, since: datetime | timedelta | None, t0: datetime, t1: datetime
) -> None:
    """Move the cursor to t1, unless a --since window left a gap after the cursor (then the next run fills it)."""
    cursor = organization.sync_cursor
    if since is not None and cursor is not None and t0 > cursor:
        return
    if cursor is not None and cursor >= t1:
        return
    moved = Organization.objects.filter(pk=organization.pk, lease_owner=owner).update(sync_cursor=t1)
    if not moved:
        raise LeaseLostError("the sync lease expired and another sync took over; cursor not moved")


def _fail_abandoned_runs(*, organization: Organization, now: datetime) -> None:
    """Runs still 'running' while we hold the lease were left by a worker that died: close them as failed."""
    SyncRun.objects.filter(organization=organization, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED,
        finished_at=now,
        error="abandoned: the worker stopped before finishing; the next run re-read its window",
    )
