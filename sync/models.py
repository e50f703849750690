"""Data of the sync engine: organizations, the events fetched from them and a record of every sync run."""

from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from sync.clients.errors import ForbiddenHostError
from sync.clients.hosts import check_url_allowed
from sync.fields import EncryptedSecretField

DEFAULT_MERAKI_BASE_URL = "https://api.meraki.com/api/v1"


def validate_meraki_base_url(value: str) -> None:
    try:
        check_url_allowed(value, extra_hosts=settings.EXTRA_ALLOWED_API_HOSTS)
    except ForbiddenHostError as exc:
        raise ValidationError(str(exc)) from None
    if not urlsplit(value).path.rstrip("/").endswith("/api/v1"):
        raise ValidationError("The Meraki base URL must end with /api/v1, e.g. https://api.meraki.com/api/v1")


class SyncStatus(models.TextChoices):
    NEVER = "never", "Never synced"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Organization(models.Model):
    """A Meraki organization whose MX security events are synced."""

    name = models.CharField(max_length=200)
    meraki_org_id = models.CharField("Meraki organization id", max_length=64)
    meraki_base_url = models.CharField(
        "Meraki API base URL",
        max_length=255,
        default=DEFAULT_MERAKI_BASE_URL,
        validators=[validate_meraki_base_url],
        help_text="https://api.meraki.com/api/v1, or the regional .ca, .cn, .in or gov-meraki.com host.",
    )
    api_key = EncryptedSecretField(
        "Meraki API key",
        blank=True,
        null=True,
        help_text="Stored encrypted; never shown again. Leave blank to keep the current key.",
    )
    enabled = models.BooleanField(default=True, help_text="Disabled organizations are not synced on schedule.")
    initial_lookback = models.DurationField(
        default=timedelta(hours=1),
        help_text="How far back the first sync reaches (e.g. 1:00:00 for one hour).",
    )
    overlap = models.DurationField(
        default=timedelta(minutes=10),
        help_text="Each sync re-reads this much before the cursor, so late-indexed events are not missed.",
    )
    sync_cursor = models.DateTimeField(
        null=True, blank=True, help_text="End of the last committed sync window; the next one starts here."
    )
    last_sync_status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.NEVER)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_error = models.TextField(blank=True)
    # The per-organization sync lock: a lease held by one run, renewed every page, free once it expires.
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["meraki_org_id", "meraki_base_url"], name="organization_unique_meraki_org"),
            models.CheckConstraint(
                condition=models.Q(overlap__gte=timedelta(0)), name="organization_overlap_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(initial_lookback__gt=timedelta(0)),
                name="organization_initial_lookback_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.meraki_org_id})"

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key)


class SecurityEvent(models.Model):
    """One Meraki MX security event, stored once per organization (deduplicated by its fingerprint)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="events")
    ts = models.DateTimeField(null=True, blank=True, help_text="Detection time; empty when the event had no valid ts.")
    event_type = models.CharField(max_length=128, blank=True, db_index=True)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the event's canonical JSON.")
    raw = models.JSONField(
        null=True,
        help_text="The event as received (NUL characters and NaN made storable); SQL NULL for a null.",
    )
    priority = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    classification = models.CharField(max_length=128, blank=True)
    src_ip = models.CharField(max_length=45, blank=True, db_index=True)
    src_port = models.PositiveIntegerField(null=True, blank=True)
    dest_ip = models.CharField(max_length=45, blank=True, db_index=True)
    dest_port = models.PositiveIntegerField(null=True, blank=True)
    protocol = models.CharField(max_length=64, blank=True)
    client_mac = models.CharField(max_length=17, blank=True, db_index=True)
    client_name = models.CharField(max_length=255, blank=True, db_index=True)
    client_ip = models.CharField(max_length=45, blank=True, db_index=True)
    device_mac = models.CharField(max_length=17, blank=True, db_index=True)
    uri = models.CharField(max_length=2048, blank=True)
    canonical_name = models.CharField(max_length=255, blank=True)
    file_hash = models.CharField(max_length=128, blank=True, db_index=True)
    file_type = models.CharField(max_length=64, blank=True)
    disposition = models.CharField(max_length=64, blank=True, db_index=True)
    action = models.CharField(max_length=64, blank=True)
    blocked = models.BooleanField(null=True, blank=True, db_index=True)
    message = models.CharField(max_length=1024, blank=True)
    signature = models.CharField(max_length=255, blank=True, db_index=True)
    rule_id = models.CharField(max_length=255, blank=True)
    parse_error = models.TextField(blank=True, help_text="What could not be parsed; empty when the event was fine.")
    first_seen_run = models.ForeignKey(
        "SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="new_events"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ts", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "fingerprint"], name="securityevent_unique_fingerprint"),
        ]
        indexes = [
            models.Index(fields=["organization", "-ts"], name="securityevent_org_ts"),
            models.Index(fields=["-ts", "-id"], name="securityevent_ts_id"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type or 'event'} @ {self.ts or 'unknown time'}"


class SyncRun(models.Model):
    """A persisted record of one sync attempt for one organization (also the skipped ones)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Sync now"
        COMMAND = "command", "Command line"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sync_runs")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True)
    t0 = models.DateTimeField(null=True, blank=True)
    t1 = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0, help_text="New events stored.")
    duplicates = models.PositiveIntegerField(default=0)
    malformed = models.PositiveIntegerField(default=0, help_text="Events stored with a parse error.")
    rate_limited = models.PositiveIntegerField(default=0, help_text="HTTP 429 answers seen.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["organization", "-started_at"], name="syncrun_org_started")]

    def __str__(self) -> str:
        return f"{self.organization.name} {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def duration(self) -> timedelta | None:
        return self.finished_at - self.started_at if self.finished_at else None
