"""Celery tasks: thin, idempotent, taking ids; the services do the work."""

import inspect
import logging
from functools import partial

from celery import shared_task
from celery.signals import task_failure
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sync.models import Organization, PromotionAttempt, SyncRun
from sync.services import ingest, retention
from sync.services.organizations import claim_due_organizations
from sync.services.pipeline import promote_and_notify

logger = logging.getLogger(__name__)


@shared_task(name="sync.tasks.dispatch_syncs")
def dispatch_syncs() -> dict:
    """Queue one sync per enabled organization (run by beat every SYNC_INTERVAL), at most once per interval."""
    organization_ids = claim_due_organizations(now=timezone.now(), interval=settings.SYNC_INTERVAL)
    for organization_id in organization_ids:
        sync_organization.delay(organization_id)
    return {"queued": len(organization_ids)}


@shared_task(name="sync.tasks.sync_organization")
def sync_organization(organization_id: int, trigger: str = SyncRun.Trigger.SCHEDULE) -> dict:
    """Sync one organization, then (after commit) promote and notify what became eligible."""
    try:
        run = ingest.sync_organization(organization_id=organization_id, trigger=trigger)
    except Organization.DoesNotExist:
        return {"organization": organization_id, "status": "deleted"}
    organization = run.organization
    promotes = organization.threat_response_account_id or organization.webex_room_id
    if promotes and run.status != SyncRun.Status.SKIPPED:
        transaction.on_commit(partial(promote_organization.delay, organization_id))
    return {"organization": organization_id, "run": run.pk, "status": run.status, "created": run.created}


@shared_task(name="sync.tasks.promote_organization")
def promote_organization(organization_id: int, trigger: str = PromotionAttempt.Trigger.SYNC) -> dict:
    """Promote pending events to Threat Response, then post the Webex alerts."""
    try:
        result = promote_and_notify(organization_id=organization_id, trigger=trigger)
    except Organization.DoesNotExist:
        return {"organization": organization_id, "status": "deleted"}
    return {"organization": organization_id, "result": result.summary}


@shared_task(name="sync.tasks.delete_expired_events")
def delete_expired_events() -> dict:
    """Delete old events that were never eligible for promotion (run by beat daily; EVENT_RETENTION)."""
    return {"deleted": retention.delete_expired_events()}


def _organization_id(task, args, kwargs) -> int | None:
    """The ``organization_id`` a task was called with, positionally or by name; None for other tasks."""
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
    except (TypeError, ValueError):
        return None
    return bound.arguments.get("organization_id")


@task_failure.connect
def log_task_failure(sender=None, task_id=None, exception=None, args=None, kwargs=None, **_) -> None:
    """One line per failed task naming the task and its organization (Celery's own line has no organization)."""
    organization_id = _organization_id(sender, args, kwargs) if sender is not None else None
    task_name = getattr(sender, "name", None)
    logger.error(
        "task failed task_id=%s task=%s organization=%s: %s: %s",
        task_id,
        task_name,
        organization_id,
        type(exception).__name__,
        exception,
        extra={"task_id": task_id, "task": task_name, "org": organization_id},
    )
