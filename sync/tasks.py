"""Celery tasks: thin, idempotent, taking ids; the services do the work."""

from celery import shared_task

from sync.models import Organization, SyncRun
from sync.services import ingest
from sync.services.organizations import enabled_organization_ids


@shared_task(name="sync.tasks.dispatch_syncs")
def dispatch_syncs() -> dict:
    """Queue one sync per enabled organization (run by beat every SYNC_INTERVAL)."""
    organization_ids = enabled_organization_ids()
    for organization_id in organization_ids:
        sync_organization.delay(organization_id)
    return {"queued": len(organization_ids)}


@shared_task(name="sync.tasks.sync_organization")
def sync_organization(organization_id: int, trigger: str = SyncRun.Trigger.SCHEDULE) -> dict:
    try:
        run = ingest.sync_organization(organization_id=organization_id, trigger=trigger)
    except Organization.DoesNotExist:
        return {"organization": organization_id, "status": "deleted"}
    return {"organization": organization_id, "run": run.pk, "status": run.status, "created": run.created}
