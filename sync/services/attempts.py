"""One place that moves an event's promotion or notification status and keeps the attempt in its history."""

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sync.models import NotificationStatus, PromotionAttempt, PromotionStatus, SecurityEvent

Outcome = PromotionAttempt.Outcome
_STATUS_AFTER = {
    PromotionAttempt.Kind.PROMOTION: {
        Outcome.SUCCEEDED: PromotionStatus.PROMOTED,
        Outcome.RETRY: PromotionStatus.PENDING,
        Outcome.FAILED: PromotionStatus.FAILED,
    },
    PromotionAttempt.Kind.NOTIFICATION: {
        Outcome.SUCCEEDED: NotificationStatus.SENT,
        Outcome.RETRY: NotificationStatus.PENDING,
        Outcome.FAILED: NotificationStatus.FAILED,
    },
}


@dataclass
class AttemptCounts:
    """What one promotion or notification run did, in events."""

    succeeded: int = 0
    retry: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, outcome: str, count: int, error: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + count)
        if error and error not in self.errors:
            self.errors.append(error)

    @property
    def summary(self) -> str:
        text = f"succeeded={self.succeeded} retry={self.retry} failed={self.failed}"
        return f"{text} error={self.errors[0]}" if self.errors else text


def record_attempt(
    *,
    event_ids: list[int],
    kind: str,
    outcome: str,
    error: str,
    trigger: str,
    counts: AttemptCounts,
    user=None,
    **fields,
) -> None:
    """Set the status after one attempt (plus any extra `fields`, e.g. the Webex message id) for all events."""
    prefix = kind  # the model's columns are promotion_* and notification_*
    with transaction.atomic():
        SecurityEvent.objects.filter(pk__in=event_ids).update(
            **{
                f"{prefix}_status": _STATUS_AFTER[kind][outcome],
                f"{prefix}_error": error,
                f"{prefix}_attempts": F(f"{prefix}_attempts") + 1,
                f"{prefix}_attempted_at": timezone.now(),
            },
            **fields,
        )
        PromotionAttempt.objects.bulk_create(
            PromotionAttempt(event_id=pk, kind=kind, trigger=trigger, outcome=outcome, error=error, started_by=user)
            for pk in event_ids
        )
    counts.add(outcome, len(event_ids), error)
