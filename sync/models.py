"""Data of the sync engine: organizations, the events fetched from them and a record of every sync run."""

from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.deconstruct import deconstructible

from sync.clients.errors import ForbiddenHostError
from sync.clients.hosts import MERAKI_API_DOMAINS, THREAT_RESPONSE_DOMAINS, WEBEX_DOMAINS, check_url_allowed
from sync.fields import EncryptedSecretField

DEFAULT_MERAKI_BASE_URL = "https://api.meraki.com/api/v1"


@deconstructible
class AllowedUrlValidator:
    """Validates an API base URL against a service's hosts plus EXTRA_ALLOWED_API_HOSTS: keys go nowhere else."""

    def __init__(self, *, domains: tuple[str, ...], service: str, path_suffix: str = ""):
        self.domains, self.service, self.path_suffix = domains, service, path_suffix

    def __call__(self, value: str) -> None:
        try:
            check_url_allowed(
                value, extra_hosts=settings.EXTRA_ALLOWED_API_HOSTS, domains=self.domains, service=self.service
            )
        except ForbiddenHostError as exc:
            raise ValidationError(str(exc)) from None
        if self.path_suffix and not urlsplit(value).path.rstrip("/").endswith(self.path_suffix):
            raise ValidationError(f"The {self.service} URL must end with {self.path_suffix}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AllowedUrlValidator) and vars(self) == vars(other)


validate_meraki_base_url = AllowedUrlValidator(domains=MERAKI_API_DOMAINS, service="Meraki API", path_suffix="/api/v1")


class ThreatResponseAccount(models.Model):
    """Credentials of a Threat Response (XDR) API client: where promoted events become incidents."""

    class Region(models.TextChoices):
        US = "us", "US (visibility.amp.cisco.com)"
        EU = "eu", "EU (visibility.eu.amp.cisco.com)"
        APJC = "apjc", "APJC (visibility.apjc.amp.cisco.com)"

    name = models.CharField(max_length=200, unique=True)
    region = models.CharField(max_length=8, choices=Region.choices, default=Region.US)
    client_id = models.CharField(max_length=255)
    client_secret = EncryptedSecretField(
        blank=True, null=True, help_text="Stored encrypted; never shown again. Leave blank to keep the current one."
    )
    token_url = models.CharField(
        max_length=255,
        blank=True,
        validators=[AllowedUrlValidator(domains=THREAT_RESPONSE_DOMAINS, service="Threat Response")],
        help_text="The whole token endpoint; empty: the region's https://visibility…/iroh/oauth2/token.",
    )
    intel_url = models.CharField(
        max_length=255,
        blank=True,
        validators=[AllowedUrlValidator(domains=THREAT_RESPONSE_DOMAINS, service="Threat Response")],
        help_text="The private intelligence base to which /ctia/... is appended; empty: the region's.",
    )

    def __str__(self) -> str:
        return self.name

    @property
    def _infix(self) -> str:
        return "" if self.region == self.Region.US else f".{self.region}"

    @property
    def effective_token_url(self) -> str:
        return self.token_url or f"https://visibility{self._infix}.amp.cisco.com/iroh/oauth2/token"

    @property
    def effective_intel_url(self) -> str:
        return (self.intel_url or f"https://private.intel{self._infix}.amp.cisco.com").rstrip("/")


class WebexRoom(models.Model):
    """A Webex room alerts are posted to by a bot; the room id is looked up once by title and cached."""

    name = models.CharField(max_length=200, unique=True)
    bot_token = EncryptedSecretField(
        blank=True, null=True, help_text="The bot's access token; stored encrypted, never shown again."
    )
    room_title = models.CharField(max_length=255, help_text="Exact title of the room the bot was invited to.")
    room_id = models.CharField(max_length=255, blank=True, help_text="Found by title on first use.")
    base_url = models.CharField(
        max_length=255,
        default="https://webexapis.com/v1",
        validators=[AllowedUrlValidator(domains=WEBEX_DOMAINS, service="Webex API")],
    )

    def __str__(self) -> str:
        return self.name


class SyncStatus(models.TextChoices):
    NEVER = "never", "Never synced"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class NotificationMode(models.TextChoices):
    PER_EVENT = "per_event", "One message per event"
    DIGEST = "digest", "One digest per sync"
    AUTO = "auto", "Per event, digest when many"


AUTO_DIGEST_THRESHOLD = 5


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
    threat_response_account = models.ForeignKey(
        ThreatResponseAccount,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="organizations",
        help_text="Where promoted events become incidents; empty: promotion is off.",
    )
    webex_room = models.ForeignKey(
        WebexRoom,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="organizations",
        help_text="Where alerts are posted; empty: notification is off.",
    )
    promote_malware = models.BooleanField(
        default=True, help_text="Promote File Scanned events with disposition Malicious, and Malware Downloaded."
    )
    promote_ids = models.BooleanField(default=True, help_text="Promote IDS Alerts at or above the priority below.")
    ids_priority_threshold = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        help_text="Promote IDS Alerts with priority ≤ this (1 is the most severe).",
    )
    notification_mode = models.CharField(
        max_length=16,
        choices=NotificationMode.choices,
        default=NotificationMode.AUTO,
        help_text=f"auto: one message per event up to {AUTO_DIGEST_THRESHOLD} in a run, one digest beyond.",
    )
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
    # When beat last queued a sync: a second beat (or a restarted one) does not queue another within an interval.
    last_dispatched_at = models.DateTimeField(null=True, blank=True)
    # The same for promotion and notification, so two runs never import the same events at once.
    promotion_lease_owner = models.CharField(max_length=64, blank=True)
    promotion_lease_expires_at = models.DateTimeField(null=True, blank=True)
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

    @property
    def external_id_key(self) -> str:
        """Names the organization in Threat Response external ids: the same org id on another region differs."""
        return f"{urlsplit(self.meraki_base_url).hostname}|{self.meraki_org_id}"


class PromotionStatus(models.TextChoices):
    NOT_ELIGIBLE = "not_eligible", "Not eligible"
    PENDING = "pending", "Pending"
    PROMOTED = "promoted", "Promoted"
    FAILED = "failed", "Failed"


class NotificationStatus(models.TextChoices):
    NOT_ELIGIBLE = "not_eligible", "Not eligible"
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class SecurityEvent(models.Model):
    """One Meraki MX security event, stored once per organization (deduplicated by its fingerprint)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="events")
    ts = models.DateTimeField(
        help_text="Detection time; for an event without a valid ts, when it was fetched (parse_error says so)."
    )
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
    promotion_status = models.CharField(
        max_length=16, choices=PromotionStatus.choices, default=PromotionStatus.NOT_ELIGIBLE, db_index=True
    )
    promotion_error = models.TextField(blank=True)
    promotion_attempts = models.PositiveIntegerField(default=0)
    promotion_attempted_at = models.DateTimeField(null=True, blank=True)
    ctia_sighting_id = models.CharField(max_length=255, blank=True)
    ctia_relationship_id = models.CharField(max_length=255, blank=True)
    incident = models.ForeignKey("Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    notification_status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.NOT_ELIGIBLE, db_index=True
    )
    notification_error = models.TextField(blank=True)
    notification_attempts = models.PositiveIntegerField(default=0)
    notification_attempted_at = models.DateTimeField(null=True, blank=True)
    webex_message_id = models.CharField(max_length=255, blank=True)
    first_seen_run = models.ForeignKey(
        "SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="new_events"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ts", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "fingerprint"], name="securityevent_unique_fingerprint"),
        ]
        permissions = [("repush_securityevent", "Can re-push events to Threat Response and Webex")]
        indexes = [
            models.Index(fields=["organization", "promotion_status"], name="securityevent_org_promotion"),
            # "failed" / "pending" lists, newest first, without walking the whole time index (bench/ui.py)
            models.Index(fields=["promotion_status", "-ts", "-id"], name="securityevent_promotion_ts"),
            models.Index(fields=["notification_status", "-ts", "-id"], name="securityevent_notification_ts"),
            models.Index(fields=["organization", "notification_status"], name="securityevent_org_notification"),
            models.Index(fields=["organization", "-ts"], name="securityevent_org_ts"),
            models.Index(fields=["-ts", "-id"], name="securityevent_ts_id"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type or 'event'} @ {self.ts}"


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


class Incident(models.Model):
    """A Threat Response incident this product created (or found existing) for a promoted event."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="incidents")
    ctia_id = models.CharField("Threat Response incident id", max_length=255, unique=True)
    external_id = models.CharField(max_length=128, db_index=True)
    title = models.CharField(max_length=1024)
    severity = models.CharField(max_length=16)
    status = models.CharField(max_length=32)
    console_url = models.CharField(max_length=2048, blank=True, help_text="Opens the incident in the XDR console.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def console_link(self) -> str:
        """The console URL when it is http(s), else empty: a stored javascript: or data: URL never becomes a link."""
        return self.console_url if urlsplit(self.console_url.strip()).scheme.lower() in ("http", "https") else ""


class PromotionAttempt(models.Model):
    """One try at promoting or notifying one event: the history an analyst reads when something failed."""

    class Kind(models.TextChoices):
        PROMOTION = "promotion", "Threat Response"
        NOTIFICATION = "notification", "Webex"

    class Trigger(models.TextChoices):
        SYNC = "sync", "After a sync"
        SCHEDULE = "schedule", "Schedule"
        ANALYST = "analyst", "Analyst re-push"
        COMMAND = "command", "Command line"

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        RETRY = "retry", "Failed, will retry"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(SecurityEvent, on_delete=models.CASCADE, related_name="attempts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["event", "-created_at"], name="attempt_event_created")]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome} for event {self.event_id}"


class EventHourlyCount(models.Model):
    """New events per organization, hour and type, kept up to date by ingest.

    The dashboard's counts and charts read these few rows instead of scanning the events table, so they stay fast
    whatever the table's size.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="hourly_counts")
    hour = models.DateTimeField()
    event_type = models.CharField(max_length=128)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "hour", "event_type"], name="hourlycount_unique"),
        ]
        indexes = [models.Index(fields=["hour"], name="hourlycount_hour")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.hour:%Y-%m-%d %H}:00 {self.event_type}: {self.count}"
