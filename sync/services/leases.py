"""Per-organization locks, held as leases in the database: one for syncing, one for promotion.

A database row works across every worker on every machine, on SQLite and PostgreSQL alike, with no extra
service. The lease expires on its own, so a worker killed mid-run blocks its organization for at most the lease
timeout; a live run renews it after every page.
"""

from datetime import datetime, timedelta

from django.db.models import Q

from sync.models import Organization

# Which lease: the columns are <lease>lease_owner and <lease>lease_expires_at on Organization.
SYNC = ""
PROMOTION = "promotion_"


def acquire_lease(*, organization_id: int, owner: str, now: datetime, timeout: timedelta, lease: str = SYNC) -> bool:
    """Take the lease if it is free or expired; one conditional UPDATE, so two callers can't both win."""
    expires = f"{lease}lease_expires_at"
    updated = (
        Organization.objects.filter(pk=organization_id)
        .filter(Q(**{f"{expires}__isnull": True}) | Q(**{f"{expires}__lte": now}))
        .update(**{f"{lease}lease_owner": owner, expires: now + timeout})
    )
    return updated == 1


def renew_lease(*, organization_id: int, owner: str, now: datetime, timeout: timedelta, lease: str = SYNC) -> bool:
    """Extend the lease; False when another run has taken it over (ours had expired)."""
    updated = Organization.objects.filter(pk=organization_id, **{f"{lease}lease_owner": owner}).update(
        **{f"{lease}lease_expires_at": now + timeout}
    )
    return updated == 1


def release_lease(*, organization_id: int, owner: str, lease: str = SYNC) -> None:
    Organization.objects.filter(pk=organization_id, **{f"{lease}lease_owner": owner}).update(
        **{f"{lease}lease_owner": "", f"{lease}lease_expires_at": None}
    )
