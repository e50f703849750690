"""After a sync: promote what became eligible, then notify; one such run per organization at a time."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from sync.models import PromotionAttempt
from sync.services.attempts import AttemptCounts
from sync.services.leases import PROMOTION, acquire_lease, release_lease
from sync.services.notification import notify_events
from sync.services.promotion import promote_events


@dataclass
class PromotionRun:
    promotion: AttemptCounts = field(default_factory=AttemptCounts)
    notification: AttemptCounts = field(default_factory=AttemptCounts)
    skipped: bool = False

    @property
    def summary(self) -> str:
        if self.skipped:
            return "promotion skipped: another promotion of this organization is running"
        return f"promotion {self.promotion.summary}; notification {self.notification.summary}"


def promote_and_notify(
    *,
    organization_id: int,
    trigger: str = PromotionAttempt.Trigger.SYNC,
    event_ids: Iterable[int] | None = None,
    include_failed: bool = False,
    promotion: bool = True,
    notification: bool = True,
    user=None,
) -> PromotionRun:
    """Promote then notify under the organization's promotion lease.

    Two imports of the same events at once could both create what CTIA then holds twice (it matches external
    ids only against what is already stored), so a second run while one holds the lease is skipped; the events
    stay pending for the next one.
    """
    owner = uuid.uuid4().hex
    if not acquire_lease(
        organization_id=organization_id,
        owner=owner,
        now=timezone.now(),
        timeout=settings.SYNC_LEASE_TIMEOUT,
        lease=PROMOTION,
    ):
        return PromotionRun(skipped=True)
    event_ids = list(event_ids) if event_ids is not None else None
    options = {"organization_id": organization_id, "trigger": trigger, "event_ids": event_ids,
               "include_failed": include_failed, "user": user}  # fmt: skip
    try:
        return PromotionRun(
            promotion=promote_events(**options) if promotion else AttemptCounts(),
            notification=notify_events(**options) if notification else AttemptCounts(),
        )
    finally:
        release_lease(organization_id=organization_id, owner=owner, lease=PROMOTION)
