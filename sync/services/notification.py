"""Tell the organization's Webex room about promoted events: one message each, or one digest when many."""

import logging
from collections.abc import Callable, Iterable

from django.conf import settings

from sync import metrics
from sync.clients.errors import ApiError
from sync.clients.webex import WebexClient
from sync.models import (
    AUTO_DIGEST_THRESHOLD,
    NotificationMode,
    NotificationStatus,
    Organization,
    PromotionAttempt,
    PromotionStatus,
    SecurityEvent,
)
from sync.services.accounts import build_webex_client, webex_room_id
from sync.services.attempts import AttemptCounts, record_attempt
from sync.services.ctim import event_observables, promotion_title
from sync.services.organizations import OrganizationConfigError
from sync.services.promotion import RETRYABLE_ERRORS, event_url
from sync.services.webex_messages import digest_message, event_message, investigate_url

logger = logging.getLogger(__name__)


def notify_events(
    *,
    organization_id: int,
    trigger: str = PromotionAttempt.Trigger.SYNC,
    event_ids: Iterable[int] | None = None,
    include_failed: bool = False,
    user=None,
    client_factory: Callable[..., WebexClient] = build_webex_client,
) -> AttemptCounts:
    """Post the organization's pending notifications (and failed ones when re-pushing) to its Webex room.

    With a Threat Response account, only promoted events are announced, so every message carries its
    incident link; without one, eligible events are announced as they are.
    """
    organization = Organization.objects.select_related("webex_room", "threat_response_account").get(pk=organization_id)
    counts = AttemptCounts()
    room = organization.webex_room
    if room is None:
        return counts
    statuses = [NotificationStatus.PENDING, *([NotificationStatus.FAILED] if include_failed else [])]
    events = SecurityEvent.objects.filter(organization=organization, notification_status__in=statuses)
    if organization.threat_response_account_id:
        events = events.filter(promotion_status=PromotionStatus.PROMOTED)
    if event_ids is not None:
        events = events.filter(pk__in=list(event_ids))
    events = list(events.select_related("incident").order_by("ts", "pk"))
    if not events:
        return counts

    def record(batch: list[SecurityEvent], outcome: str, error: str = "", **fields) -> None:
        record_attempt(event_ids=[event.pk for event in batch], kind=PromotionAttempt.Kind.NOTIFICATION,
                       outcome=outcome, error=error, trigger=trigger, counts=counts, user=user, **fields)  # fmt: skip

    try:
        client = client_factory(room=room)
        room_id = webex_room_id(room=room, client=client)
    except (OrganizationConfigError, ApiError) as exc:
        outcome = (
            PromotionAttempt.Outcome.RETRY if isinstance(exc, RETRYABLE_ERRORS) else PromotionAttempt.Outcome.FAILED
        )
        record(events, outcome, str(exc))
        metrics.record_notification(organization.pk, counts)
        return counts

    mode = organization.notification_mode
    if mode == NotificationMode.AUTO:
        mode = NotificationMode.PER_EVENT if len(events) <= AUTO_DIGEST_THRESHOLD else NotificationMode.DIGEST
    if mode == NotificationMode.PER_EVENT:
        messages = [([event], _event_markdown(event, region=_region(organization))) for event in events]
    else:
        digest = digest_message(
            events,
            organization_name=organization.name,
            events_url=f"{settings.SITE_URL}/events/?organization={organization.pk}",
            total=len(events),
        )
        messages = [(events, digest)]
    for batch, markdown in messages:
        try:
            message = client.post_message(room_id=room_id, markdown=markdown)
        except ApiError as exc:
            outcome = (
                PromotionAttempt.Outcome.RETRY if isinstance(exc, RETRYABLE_ERRORS) else PromotionAttempt.Outcome.FAILED
            )
            record(batch, outcome, str(exc))
            continue
        record(batch, PromotionAttempt.Outcome.SUCCEEDED, webex_message_id=message.get("id", ""))
    logger.info("notification org=%s trigger=%s mode=%s %s", organization.pk, trigger, mode, counts.summary)
    metrics.record_notification(organization.pk, counts)
    return counts


def _region(organization: Organization) -> str:
    account = organization.threat_response_account
    return account.region if account else "us"


def _event_markdown(event: SecurityEvent, *, region: str) -> str:
    return event_message(
        event,
        title=promotion_title(event),
        incident_url=event.incident.console_url if event.incident else "",
        investigate_url=investigate_url(
            settings.XDR_INVESTIGATE_URL_TEMPLATE.format(region=region), event_observables(event)
        ),
        event_url=event_url(event),
    )
