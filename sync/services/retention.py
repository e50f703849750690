"""Data retention: old events that were never eligible for promotion are deleted; everything an analyst acts on stays.

Only ``not_eligible`` events expire. ``pending`` and ``failed`` ones were never promoted either, but they are work
items (a failed event waits for an analyst's re-push), and ``promoted`` ones back an incident in Threat Response
and Webex: all three are kept, as are incidents.
"""

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sync.models import PromotionStatus, SecurityEvent

logger = logging.getLogger(__name__)


def delete_expired_events(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Delete ``not_eligible`` events older than ``EVENT_RETENTION``; returns how many. No-op when it is None.

    Age is the event's ``ts`` (the fetch time for an event that came without one). Deletes by primary key in
    batches of ``batch_size``, each its own short transaction, so a run never holds a long lock on the table.
    """
    retention = settings.EVENT_RETENTION
    if not retention:
        return 0
    cutoff = (now or timezone.now()) - retention
    expired = SecurityEvent.objects.filter(ts__lt=cutoff, promotion_status=PromotionStatus.NOT_ELIGIBLE).order_by("pk")
    deleted, last_pk = 0, 0
    while True:
        # Moving past the last batch's highest id keeps each select from re-reading rows just deleted.
        ids = list(expired.filter(pk__gt=last_pk).values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        with transaction.atomic():
            _, per_model = SecurityEvent.objects.filter(pk__in=ids).only("pk").delete()
        deleted += per_model.get(SecurityEvent._meta.label, 0)
        last_pk = ids[-1]
    logger.info("retention deleted=%s cutoff=%s retention=%s", deleted, cutoff.isoformat(), retention)
    return deleted
