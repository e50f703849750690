"""Organizations: scripted set-up, the Meraki client built for one, and the admin's connection test."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from sync.clients.errors import ApiError
from sync.clients.meraki import MerakiClient
from sync.crypto import SecretDecryptionError
from sync.models import DEFAULT_MERAKI_BASE_URL, Organization
from sync.ratelimit import build_rate_limiter

logger = logging.getLogger(__name__)


class OrganizationConfigError(Exception):
    """The organization cannot be synced as configured (no key, undecryptable key); the message says why."""


def build_meraki_client(*, organization: Organization) -> MerakiClient:
    """A client for this organization with the deployment's limits; raises OrganizationConfigError."""
    if not organization.api_key:
        raise OrganizationConfigError("no Meraki API key is set for this organization")
    try:
        api_key = organization.api_key.reveal()
    except SecretDecryptionError as exc:
        raise OrganizationConfigError(str(exc)) from None
    return MerakiClient(
        base_url=organization.meraki_base_url,
        api_key=api_key,
        rate_limiter=build_rate_limiter(
            redis_url=settings.REDIS_URL,
            rate_per_second=settings.MERAKI_RATE_LIMIT_PER_SECOND,
            burst=settings.MERAKI_RATE_LIMIT_BURST,
        ),
        extra_allowed_hosts=settings.EXTRA_ALLOWED_API_HOSTS,
        timeout=settings.MERAKI_TIMEOUT,
        max_attempts=settings.MERAKI_MAX_ATTEMPTS,
        max_rate_limit_retries=settings.MERAKI_MAX_RATE_LIMIT_RETRIES,
        max_retry_after=settings.MERAKI_MAX_RETRY_AFTER,
        max_pages=settings.MERAKI_MAX_PAGES,
    )


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str


def check_meraki_connection(*, organization: Organization) -> ConnectionCheck:
    """One small request with the organization's key: the admin's "Test connection"."""
    try:
        events = build_meraki_client(organization=organization).check_access(org_id=organization.meraki_org_id)
    except (OrganizationConfigError, ApiError) as exc:
        logger.info("connection test failed org=%s: %s", organization.pk, exc)
        return ConnectionCheck(ok=False, message=f"{organization.name}: {exc}")
    return ConnectionCheck(
        ok=True,
        message=f"{organization.name}: connected; {events} security event(s) in the last hour on the first page",
    )


def upsert_organization(
    *,
    name: str,
    meraki_org_id: str,
    api_key: str,
    base_url: str = DEFAULT_MERAKI_BASE_URL,
    initial_lookback: timedelta | None = None,
    **links,
) -> tuple[Organization, bool]:
    """Create or update the organization matched on (org id, base URL); returns it and whether it was created."""
    with transaction.atomic():
        organization = (
            Organization.objects.select_for_update()
            .filter(meraki_org_id=meraki_org_id, meraki_base_url=base_url)
            .first()
        )
        created = organization is None
        if created:
            organization = Organization(meraki_org_id=meraki_org_id, meraki_base_url=base_url)
        organization.name = name
        organization.api_key = api_key
        if initial_lookback is not None:
            organization.initial_lookback = initial_lookback
        for name, value in links.items():  # threat_response_account, webex_room
            setattr(organization, name, value)
        organization.full_clean()
        organization.save()
    return organization, created


# A beat tick a little early (clock drift, a restarted beat) must still dispatch; a second beat must not.
DISPATCH_GUARD = 0.9


def claim_due_organizations(*, now: datetime, interval: timedelta) -> list[int]:
    """The enabled organizations whose scheduled sync is due, each claimed atomically for this interval.

    Only one beat should run, but a second one (or a beat restarted mid-interval) must be harmless: an
    organization dispatched less than 90% of an interval ago is not queued again.
    """
    due_before = now - interval * DISPATCH_GUARD
    claimed = []
    for organization_id in Organization.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True):
        won = (
            Organization.objects.filter(pk=organization_id)
            .filter(Q(last_dispatched_at__isnull=True) | Q(last_dispatched_at__lte=due_before))
            .update(last_dispatched_at=now)
        )
        if won:
            claimed.append(organization_id)
    return claimed
