"""Re-send events to Threat Response and Webex: one, a selection, or all failed ones of an organization.

Safe to repeat: promotion matches the deterministic external ids, so nothing is created twice, and an event
that was only partly created (sighting made, incident failed) is completed.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Q

from sync.models import NotificationStatus, PromotionAttempt, PromotionStatus, SecurityEvent
from sync.services.pipeline import PromotionRun, promote_and_notify


def repush_events(
    *,
    event_ids: Iterable[int] | None = None,
    organization_ids: Iterable[int] | None = None,
    promotion: bool = True,
    notification: bool = True,
    trigger: str = PromotionAttempt.Trigger.ANALYST,
    user=None,
) -> dict[int, PromotionRun]:
    """Re-push the named events, or every failed one (of the named organizations); results per organization."""
    events = SecurityEvent.objects.exclude(promotion_status=PromotionStatus.NOT_ELIGIBLE)
    if event_ids is not None:
        events = events.filter(pk__in=list(event_ids))
    else:
        failed = Q(pk__in=[])
        if promotion:
            failed |= Q(promotion_status=PromotionStatus.FAILED)
        if notification:
            failed |= Q(notification_status=NotificationStatus.FAILED)
        events = events.filter(failed)
    if organization_ids is not None:
        events = events.filter(organization_id__in=list(organization_ids))
    by_organization: dict[int, list[int]] = defaultdict(list)
    for organization_id, event_id in events.values_list("organization_id", "pk"):
        by_organization[organization_id].append(event_id)
    return {
        organization_id: promote_and_notify(
            organization_id=organization_id,
            trigger=trigger,
            event_ids=ids,
            include_failed=True,
            promotion=promotion,
            notification=notification,
            user=user,
        )
        for organization_id, ids in by_organization.items()
    }
