"""What the dashboard shows per organization, read in a fixed number of queries whatever their number.

Event counts by type and over time come from the hourly rollups (EventHourlyCount), never from the events table;
promotion and notification counts use the (organization, status) indexes and skip the not-eligible majority.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import TruncDay
from django.utils import timezone

from sync.models import (
    EventHourlyCount,
    NotificationStatus,
    Organization,
    PromotionStatus,
    SecurityEvent,
    SyncRun,
)

# Beyond this many event types a chart gets unreadable: the rarest ones are summed up as "Other".
MAX_CHART_TYPES = 7
OTHER_TYPE = "Other"
UNTYPED = "(no type)"


class ChartRange(StrEnum):
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"

    @property
    def label(self) -> str:
        return {"24h": "24 hours", "7d": "7 days", "30d": "30 days"}[self.value]

    @property
    def bucket_label(self) -> str:
        return {"24h": "hour", "7d": "6 hours", "30d": "day"}[self.value]

    @property
    def date_format(self) -> str:
        """How a bucket's start is written (Django date format), in the chart and its table."""
        return {"24h": "M j, H:i", "7d": "M j, H:i", "30d": "M j"}[self.value]

    @classmethod
    def parse(cls, value: str | None) -> "ChartRange":
        try:
            return cls(value or cls.DAY)
        except ValueError:
            return cls.DAY


@dataclass(frozen=True)
class Series:
    event_type: str
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class Chart:
    range: ChartRange
    buckets: list[datetime]
    series: list[Series]

    @property
    def total(self) -> int:
        return sum(series.total for series in self.series)

    @property
    def rows(self) -> list[tuple[datetime, list[int]]]:
        """The same data by bucket, for the table beside the chart."""
        return [(bucket, [series.counts[i] for series in self.series]) for i, bucket in enumerate(self.buckets)]


@dataclass(frozen=True)
class OrganizationSummary:
    organization: Organization
    last_run: SyncRun | None
    types_24h: list[tuple[str, int]]
    pending: int
    promoted: int
    failed: int
    failed_notifications: int
    chart: Chart

    @property
    def events_24h(self) -> int:
        return sum(count for _, count in self.types_24h)


@dataclass(frozen=True)
class Dashboard:
    range: ChartRange
    now: datetime
    organizations: list[OrganizationSummary] = field(default_factory=list)


def chart_buckets(*, chart_range: ChartRange, now: datetime) -> list[datetime]:
    """The start of every bucket of a range, oldest first; the last one holds `now`.

    Hours are UTC hours, as in the rollups (a time zone may be off UTC by half an hour); days are the user's.
    """
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if chart_range == ChartRange.DAY:
        return [hour - timedelta(hours=n) for n in range(23, -1, -1)]
    if chart_range == ChartRange.WEEK:
        last = _bucket_of(hour, chart_range)
        return [last - timedelta(hours=6 * n) for n in range(27, -1, -1)]
    tz = timezone.get_current_timezone()
    today = now.astimezone(tz).date()
    return [datetime.combine(today - timedelta(days=n), time(), tzinfo=tz) for n in range(29, -1, -1)]


def _bucket_of(hour: datetime, chart_range: ChartRange) -> datetime:
    if chart_range == ChartRange.WEEK:
        # Six-hour buckets on UTC boundaries, so an hourly row falls into exactly one.
        utc = hour.astimezone(UTC)
        return utc.replace(hour=utc.hour - utc.hour % 6, minute=0, second=0, microsecond=0)
    return hour


def _chart_counts(*, chart_range: ChartRange, start: datetime) -> dict[int, dict[tuple[datetime, str], int]]:
    """{organization id: {(bucket start, event type): count}} over every organization, in one query."""
    rows = EventHourlyCount.objects.filter(hour__gte=start)
    if chart_range == ChartRange.MONTH:
        # Days in the user's time zone, summed by the database: a month of hourly rows would be many.
        rows = (
            rows.annotate(bucket=TruncDay("hour", tzinfo=timezone.get_current_timezone()))
            .values_list("organization_id", "bucket", "event_type")
            .annotate(n=Sum("count"))
            .order_by()
        )
    else:
        rows = rows.values_list("organization_id", "hour", "event_type", "count")
    counts: dict[int, dict[tuple[datetime, str], int]] = defaultdict(lambda: defaultdict(int))
    for organization_id, bucket, event_type, n in rows:
        counts[organization_id][(_bucket_of(bucket, chart_range), event_type or UNTYPED)] += n
    return counts


def _build_chart(*, chart_range: ChartRange, buckets: list[datetime], counts: dict[tuple[datetime, str], int]) -> Chart:
    index = {bucket: i for i, bucket in enumerate(buckets)}
    by_type: dict[str, list[int]] = defaultdict(lambda: [0] * len(buckets))
    for (bucket, event_type), n in counts.items():
        if bucket in index:
            by_type[event_type][index[bucket]] += n
    ranked = sorted(by_type.items(), key=lambda item: (-sum(item[1]), item[0]))
    if len(ranked) > MAX_CHART_TYPES:
        kept, rest = ranked[: MAX_CHART_TYPES - 1], ranked[MAX_CHART_TYPES - 1 :]
        other = [sum(values) for values in zip(*(counts for _, counts in rest), strict=True)]
        ranked = [*kept, (OTHER_TYPE, other)]
    return Chart(range=chart_range, buckets=buckets, series=[Series(event_type=t, counts=list(c)) for t, c in ranked])


def dashboard(*, chart_range: ChartRange = ChartRange.DAY, now: datetime | None = None) -> Dashboard:
    """Every organization's summary: last sync, events of the last 24 h by type, promotion counts, a chart."""
    now = now or timezone.now()
    last_run = SyncRun.objects.filter(organization=OuterRef("pk")).exclude(status=SyncRun.Status.SKIPPED)
    organizations = list(
        Organization.objects.annotate(
            last_run_id=Subquery(last_run.order_by("-started_at", "-id").values("pk")[:1])
        ).order_by("name", "pk")
    )
    if not organizations:
        return Dashboard(range=chart_range, now=now)

    runs = SyncRun.objects.in_bulk([o.last_run_id for o in organizations if o.last_run_id])

    day_start = chart_buckets(chart_range=ChartRange.DAY, now=now)[0]
    types_24h: dict[int, dict[str, int]] = defaultdict(dict)
    for organization_id, event_type, n in (
        EventHourlyCount.objects.filter(hour__gte=day_start)
        .values_list("organization_id", "event_type")
        .annotate(n=Sum("count"))
        .order_by()
    ):
        types_24h[organization_id][event_type or UNTYPED] = n

    # Both columns of the (organization, status) indexes are in the condition and COUNT(*) reads no other
    # column, so PostgreSQL counts in the index alone (an index-only scan) and never reads not-eligible rows.
    organization_ids = [o.pk for o in organizations]
    promotion: dict[tuple[int, str], int] = {
        (organization_id, status): n
        for organization_id, status, n in SecurityEvent.objects.filter(
            organization_id__in=organization_ids,
            promotion_status__in=[PromotionStatus.PENDING, PromotionStatus.PROMOTED, PromotionStatus.FAILED],
        )
        .values_list("organization_id", "promotion_status")
        .annotate(n=Count("*"))
        .order_by()
    }
    failed_notifications = dict(
        SecurityEvent.objects.filter(
            organization_id__in=organization_ids, notification_status=NotificationStatus.FAILED
        )
        .values_list("organization_id")
        .annotate(n=Count("*"))
        .order_by()
    )

    buckets = chart_buckets(chart_range=chart_range, now=now)
    chart_counts = _chart_counts(chart_range=chart_range, start=buckets[0])

    summaries = [
        OrganizationSummary(
            organization=organization,
            last_run=runs.get(organization.last_run_id),
            types_24h=sorted(types_24h[organization.pk].items(), key=lambda item: (-item[1], item[0])),
            pending=promotion.get((organization.pk, PromotionStatus.PENDING), 0),
            promoted=promotion.get((organization.pk, PromotionStatus.PROMOTED), 0),
            failed=promotion.get((organization.pk, PromotionStatus.FAILED), 0),
            failed_notifications=failed_notifications.get(organization.pk, 0),
            chart=_build_chart(chart_range=chart_range, buckets=buckets, counts=chart_counts.get(organization.pk, {})),
        )
        for organization in organizations
    ]
    return Dashboard(range=chart_range, now=now, organizations=summaries)
