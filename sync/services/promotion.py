"""Promote eligible events to Threat Response, exactly once: a CTIM sighting, incident and relationship each.

Every CTIM object carries a deterministic external id (from the organization and the event's fingerprint), and
CTIA's bundle import answers `exists` for one it already has, so re-running or re-pushing never makes a second
incident, and re-pushing a partly created event completes it. Many events go in one bundle import.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sync import metrics
from sync.clients.errors import ApiError, RateLimitedError, TransientError
from sync.clients.threatresponse import ThreatResponseClient
from sync.models import Incident, Organization, PromotionAttempt, PromotionStatus, SecurityEvent
from sync.services.accounts import build_threat_response_client
from sync.services.attempts import AttemptCounts, record_attempt
from sync.services.ctim import EventEntities, build_bundles, build_event_entities
from sync.services.organizations import OrganizationConfigError

logger = logging.getLogger(__name__)

# Events read and imported per round: 3 entities each stays well under CTIA's 2000-entity bundle limit.
PROMOTION_BATCH_SIZE = 500
RETRYABLE_ERRORS = (TransientError, RateLimitedError)


def event_url(event: SecurityEvent) -> str:
    return f"{settings.SITE_URL}/events/{event.pk}/"


def incident_console_url(*, ctia_id: str, region: str) -> str:
    short_id = urlsplit(ctia_id).path.rstrip("/").rsplit("/", 1)[-1]
    return settings.XDR_INCIDENT_URL_TEMPLATE.format(region=region, incident_id=short_id, ctia_id=ctia_id)


def promote_events(
    *,
    organization_id: int,
    trigger: str = PromotionAttempt.Trigger.SYNC,
    event_ids: Iterable[int] | None = None,
    include_failed: bool = False,
    user=None,
    now: datetime | None = None,
    client_factory: Callable[..., ThreatResponseClient] = build_threat_response_client,
) -> AttemptCounts:
    """Promote the organization's pending events (and failed ones when re-pushing); returns the counts.

    Transient failures (network, 5xx, 429 after the client's own retries) leave events pending for the next
    run; permanent ones (400, 401, 403, invalid CTIM) mark them failed with the reason.
    """
    organization = Organization.objects.select_related("threat_response_account").get(pk=organization_id)
    result = AttemptCounts()
    account = organization.threat_response_account
    if account is None:
        return result
    statuses = [PromotionStatus.PENDING, *([PromotionStatus.FAILED] if include_failed else [])]
    events = SecurityEvent.objects.filter(organization=organization, promotion_status__in=statuses)
    if event_ids is not None:
        events = events.filter(pk__in=list(event_ids))
    if not events.exists():
        return result
    try:
        client = client_factory(account=account)
    except (OrganizationConfigError, ApiError) as exc:
        _record(
            list(events), result, outcome=PromotionAttempt.Outcome.FAILED, error=str(exc), trigger=trigger, user=user
        )
        metrics.record_promotion(organization.pk, result)
        return result
    last_id = 0
    while batch := list(events.filter(pk__gt=last_id).order_by("pk")[:PROMOTION_BATCH_SIZE]):
        last_id = batch[-1].pk
        _promote_batch(batch, organization=organization, client=client, result=result, trigger=trigger, user=user,
                       now=now or timezone.now())  # fmt: skip
    logger.info("promotion org=%s trigger=%s %s", organization.pk, trigger, result.summary)
    metrics.record_promotion(organization.pk, result)
    return result


def _promote_batch(
    batch: list[SecurityEvent],
    *,
    organization: Organization,
    client: ThreatResponseClient,
    result: AttemptCounts,
    trigger: str,
    user,
    now: datetime,
) -> None:
    entities = {
        event.pk: build_event_entities(
            event, organization_key=organization.external_id_key, event_url=event_url(event), promoted_at=now
        )
        for event in batch
    }
    try:
        answers = [answer for bundle in build_bundles(entities.values()) for answer in client.import_bundle(bundle)]
    except RETRYABLE_ERRORS as exc:
        _record(batch, result, outcome=PromotionAttempt.Outcome.RETRY, error=str(exc), trigger=trigger, user=user)
        return
    except ApiError as exc:
        _record(batch, result, outcome=PromotionAttempt.Outcome.FAILED, error=str(exc), trigger=trigger, user=user)
        return
    by_external_id = {xid: answer for answer in answers for xid in answer.get("external_ids") or ()}
    for event in batch:
        _apply_answers(event, entities[event.pk], by_external_id, organization=organization, result=result,
                       trigger=trigger, user=user)  # fmt: skip


def _apply_answers(
    event: SecurityEvent,
    entities: EventEntities,
    by_external_id: dict[str, dict],
    *,
    organization: Organization,
    result: AttemptCounts,
    trigger: str,
    user,
) -> None:
    answers = {
        kind: by_external_id.get(xid)
        for kind, xid in (
            ("sighting", entities.sighting_external_id),
            ("incident", entities.incident_external_id),
            ("relationship", entities.relationship_external_id),
        )
    }
    problems = [
        f"{kind}: {(answer or {}).get('error') or (answer or {}).get('msg') or 'missing from the answer'}"
        for kind, answer in answers.items()
        if not answer or answer.get("result") not in ("created", "exists")
    ]
    if problems:
        error = "Threat Response refused the CTIM objects: " + "; ".join(problems)
        _record([event], result, outcome=PromotionAttempt.Outcome.FAILED, error=error, trigger=trigger, user=user)
        return
    with transaction.atomic():
        incident, _ = Incident.objects.get_or_create(
            ctia_id=answers["incident"]["id"],
            defaults={
                "organization": organization,
                "external_id": entities.incident_external_id,
                "title": entities.incident["title"],
                "severity": entities.incident["severity"],
                "status": entities.incident["status"],
                "console_url": incident_console_url(
                    ctia_id=answers["incident"]["id"], region=organization.threat_response_account.region
                ),
            },
        )
        event.incident = incident
        event.ctia_sighting_id = answers["sighting"]["id"]
        event.ctia_relationship_id = answers["relationship"]["id"]
        event.save(update_fields=["incident", "ctia_sighting_id", "ctia_relationship_id"])
        _record([event], result, outcome=PromotionAttempt.Outcome.SUCCEEDED, error="", trigger=trigger, user=user)


def _record(events: list[SecurityEvent], counts: AttemptCounts, *, outcome: str, error: str, trigger: str, user):
    record_attempt(
        event_ids=[event.pk for event in events],
        kind=PromotionAttempt.Kind.PROMOTION,
        outcome=outcome,
        error=error,
        trigger=trigger,
        counts=counts,
        user=user,
    )
