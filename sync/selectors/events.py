"""Reads of security events for the analyst's pages and the API.

Paging is by keyset on (ts, id), newest first: each page is one indexed range read of limit + 1 rows, as fast on
page 1,000 as on page 1, and no query ever counts the whole table.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from sync.filtersets import EventFilterForm
from sync.models import NotificationStatus, Organization, PromotionStatus, SecurityEvent

PAGE_SIZE = 50


@dataclass
class EventPage:
    items: list
    next_cursor: str | None
    is_first: bool

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None


def events_for_analyst(*, form: EventFilterForm, include_raw: bool = True) -> QuerySet[SecurityEvent]:
    """The events matching the form's valid filters, newest first; `include_raw=False` skips the raw JSON (lists)."""
    queryset = SecurityEvent.objects.select_related("organization", "incident").order_by("-ts", "-id")
    if not include_raw:
        queryset = queryset.defer("raw")
    return form.filter_queryset(queryset)


def encode_cursor(event: SecurityEvent) -> str:
    text = f"{event.ts.astimezone(UTC).isoformat()}|{event.pk}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (ts, id) of the last event on the previous page; ValueError for anything this module did not make."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts_text, id_text = text.split("|")
        ts, pk = datetime.fromisoformat(ts_text), int(id_text)
        if ts.tzinfo is not None:
            # As the database compares it; a forged time with no UTC equivalent (OverflowError) is invalid too.
            ts = ts.astimezone(UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise ValueError(f"invalid cursor {cursor[:40]!r}") from exc
    if ts.tzinfo is None or pk < 1:
        raise ValueError(f"invalid cursor {cursor[:40]!r}")
    return ts, pk


def event_page(*, queryset: QuerySet[SecurityEvent], cursor: str | None, limit: int = PAGE_SIZE) -> EventPage:
    """One page of `queryset` (ordered -ts, -id) after `cursor`; raises ValueError for an invalid cursor."""
    if cursor:
        ts, pk = decode_cursor(cursor)
        # ts <= x narrows the index range; the OR picks the rows strictly after (x, pk) in (-ts, -id) order.
        queryset = queryset.filter(Q(ts__lte=ts) & (Q(ts__lt=ts) | Q(id__lt=pk)))
    rows = list(queryset.order_by("-ts", "-id")[: limit + 1])
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1]) if len(rows) > limit else None
    return EventPage(items=items, next_cursor=next_cursor, is_first=not cursor)


def event_detail(*, event_id: int) -> SecurityEvent:
    """One event with its organization and incident; Http404 when there is none."""
    return get_object_or_404(SecurityEvent.objects.select_related("organization", "incident"), pk=event_id)


def event_attempts(*, event: SecurityEvent, limit: int = 100) -> list:
    """The event's promotion and notification attempts, newest first, with who started them."""
    return list(event.attempts.select_related("started_by").order_by("-created_at", "-id")[:limit])


def similar_events(*, event: SecurityEvent, limit: int = 10) -> list[SecurityEvent]:
    """Events of the same organization and client (MAC, else IP) with the same signature or file hash."""
    same_threat = Q(pk__in=[])
    if event.signature:
        same_threat |= Q(signature=event.signature)
    if event.file_hash:
        same_threat |= Q(file_hash=event.file_hash)
    if event.client_mac:
        same_client = Q(client_mac=event.client_mac)
    elif event.client_ip:
        same_client = Q(client_ip=event.client_ip)
    else:
        return []
    if not (event.signature or event.file_hash):
        return []
    queryset = (
        SecurityEvent.objects.filter(same_threat, same_client, organization_id=event.organization_id)
        .exclude(pk=event.pk)
        .select_related("organization")
        .defer("raw")
        .order_by("-ts", "-id")
    )
    return list(queryset[:limit])


def failed_event_ids(*, queryset: QuerySet[SecurityEvent], limit: int) -> list[int]:
    """Ids of the events in `queryset` whose promotion or notification failed, newest first, at most `limit`."""
    failed = Q(promotion_status=PromotionStatus.FAILED) | Q(notification_status=NotificationStatus.FAILED)
    return list(queryset.filter(failed).order_by("-ts", "-id").values_list("pk", flat=True)[:limit])


def organization_names(*, ids: list[int]) -> dict[int, str]:
    return dict(Organization.objects.filter(pk__in=ids).values_list("pk", "name"))
