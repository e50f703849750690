"""Prometheus metrics of syncs, promotions and notifications, and the `/metrics` view (off unless METRICS_ENABLED).

Each process counts its own: gunicorn workers and Celery worker processes are separate, so to see one total the
processes must share a folder named by the PROMETHEUS_MULTIPROC_DIR environment variable (set before they
start, emptied at each deployment); `/metrics` then aggregates every process's files. Without it, `/metrics`
shows only the web process that answers, which never runs a sync.

Labels are this product's organization id (the `org=` of the logs), a small and stable set.
"""

import functools
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder

from sync.models import SyncRun
from sync.services.attempts import AttemptCounts

logger = logging.getLogger(__name__)

ORG = "organization_id"

EVENTS_FETCHED = Counter(
    "meraki_incidents_events_fetched", "Security events read from the Meraki API (duplicates included).", [ORG]
)
EVENTS_CREATED = Counter("meraki_incidents_events_created", "New security events stored.", [ORG])
MERAKI_RATE_LIMITED = Counter(
    "meraki_incidents_meraki_rate_limited", "HTTP 429 answers seen from the Meraki API during syncs.", [ORG]
)
SYNC_RUNS = Counter("meraki_incidents_sync_runs", "Finished sync runs, by status.", [ORG, "status"])
SYNC_DURATION = Histogram(
    "meraki_incidents_sync_duration_seconds",
    "Duration of sync runs (to about a second: runs start on a whole second), by status.",
    [ORG, "status"],
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
EVENTS_PROMOTED = Counter("meraki_incidents_events_promoted", "Events promoted to Threat Response.", [ORG])
PROMOTION_FAILURES = Counter(
    "meraki_incidents_promotion_failures",
    "Events whose promotion failed: outcome=failed (needs a re-push) or retry (left pending for the next run).",
    [ORG, "outcome"],
)
NOTIFICATIONS_SENT = Counter("meraki_incidents_notifications_sent", "Events announced in Webex.", [ORG])
NOTIFICATION_FAILURES = Counter(
    "meraki_incidents_notification_failures",
    "Events whose Webex notification failed: outcome=failed (needs a re-push) or retry (left pending).",
    [ORG, "outcome"],
)


def _never_raises(function: Callable[..., None]) -> Callable[..., None]:
    """Counting must never fail a sync or a promotion (e.g. a full disk under PROMETHEUS_MULTIPROC_DIR)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs) -> None:
        try:
            function(*args, **kwargs)
        except Exception:
            logger.exception("recording metrics failed in %s", function.__name__)

    return wrapper


@_never_raises
def record_sync_run(run: SyncRun) -> None:
    org = str(run.organization_id)
    SYNC_RUNS.labels(org, run.status).inc()
    if run.status == SyncRun.Status.SKIPPED:
        return
    EVENTS_FETCHED.labels(org).inc(run.fetched)
    EVENTS_CREATED.labels(org).inc(run.created)
    MERAKI_RATE_LIMITED.labels(org).inc(run.rate_limited)
    if run.duration is not None:
        SYNC_DURATION.labels(org, run.status).observe(max(run.duration.total_seconds(), 0.0))


@_never_raises
def record_promotion(organization_id: int, counts: AttemptCounts) -> None:
    org = str(organization_id)
    EVENTS_PROMOTED.labels(org).inc(counts.succeeded)
    PROMOTION_FAILURES.labels(org, "failed").inc(counts.failed)
    PROMOTION_FAILURES.labels(org, "retry").inc(counts.retry)


@_never_raises
def record_notification(organization_id: int, counts: AttemptCounts) -> None:
    org = str(organization_id)
    NOTIFICATIONS_SENT.labels(org).inc(counts.succeeded)
    NOTIFICATION_FAILURES.labels(org, "failed").inc(counts.failed)
    NOTIFICATION_FAILURES.labels(org, "retry").inc(counts.retry)


def metrics_registry() -> CollectorRegistry:
    """Every process's metrics when PROMETHEUS_MULTIPROC_DIR is set, else this process's own."""
    if not settings.PROMETHEUS_MULTIPROC_DIR:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    return registry


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition, without login (scrapers), and a 404 unless METRICS_ENABLED."""
    if not settings.METRICS_ENABLED:
        raise Http404("metrics are disabled")
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(metrics_registry()), content_type=content_type)
