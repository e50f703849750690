"""What the built-in simulator of Meraki, Threat Response and Webex knows and received.

Stored in the database (not in memory) so the web server, the worker and the tests all see one state.
Simulated credentials are kept as SHA-256 digests: the same values are real-looking keys in the product's
configuration, and no key is kept in clear anywhere.
"""

import hashlib

from django.db import models


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SimulatedMerakiOrganization(models.Model):
    """A Meraki organization the simulator serves a deterministic stream of security events for."""

    org_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    api_key_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the API key that may read it.")
    events_per_hour = models.PositiveIntegerField(default=60)
    seed = models.BigIntegerField(default=0)
    # What the simulator served, so tests and the demo can compare with SyncRun counts.
    requests_served = models.PositiveIntegerField(default=0)
    pages_served = models.PositiveIntegerField(default=0)
    events_served = models.PositiveIntegerField(default=0)
    rate_limited_served = models.PositiveIntegerField(default=0)
    errors_served = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} ({self.org_id})"


class SimulatedFault(models.Model):
    """A fault injected into the next matching request(s): after `skip` clean ones, the next `remaining`."""

    class Api(models.TextChoices):
        MERAKI = "meraki", "Meraki"
        THREAT_RESPONSE = "threatresponse", "Threat Response"
        WEBEX = "webex", "Webex"

    class Kind(models.TextChoices):
        SERVER_ERROR = "server_error", "HTTP 500"
        RATE_LIMIT = "rate_limit", "HTTP 429 with Retry-After"
        SLOW = "slow", "Slow response"
        REDIRECT = "redirect", "Redirect to a shard host (Meraki)"
        MALFORMED = "malformed", "Malformed body (Meraki page)"
        BAD_REQUEST = "bad_request", "HTTP 400 (Threat Response, Webex)"

    api = models.CharField(max_length=16, choices=Api.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    org_id = models.CharField(max_length=64, blank=True, help_text="Meraki only: limit to one organization.")
    skip = models.PositiveIntegerField(default=0, help_text="Matching requests to let through first.")
    remaining = models.PositiveIntegerField(default=1, help_text="Matching requests to affect.")
    retry_after = models.PositiveIntegerField(default=1)
    delay_seconds = models.FloatField(default=0)
    shard_host = models.CharField(max_length=255, blank=True, help_text="Redirect target host[:port].")
    fired = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.api} {self.kind} x{self.remaining} after {self.skip}"


class CtiaEntity(models.Model):
    """An entity the simulated Threat Response (CTIA) stored."""

    entity_type = models.CharField(max_length=32, db_index=True)
    entity_id = models.CharField(max_length=255, unique=True)
    external_ids = models.JSONField(default=list)
    body = models.JSONField()
    client_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.entity_id


class SimulatedThreatResponseClient(models.Model):
    """An API client (client id + secret) the simulated token endpoint accepts."""

    client_id = models.CharField(max_length=255, unique=True)
    client_secret_sha256 = models.CharField(max_length=64)
    region = models.CharField(max_length=8, default="us")

    def __str__(self) -> str:
        return self.client_id


class SimulatedWebexBot(models.Model):
    """A bot whose access token the simulated Webex API accepts."""

    name = models.CharField(max_length=200)
    token_sha256 = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return self.name


class SimulatedWebexRoom(models.Model):
    room_id = models.CharField(max_length=255, unique=True)
    title = models.CharField(max_length=255)
    members = models.ManyToManyField(SimulatedWebexBot, related_name="rooms")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title


class SimulatedWebexMessage(models.Model):
    message_id = models.CharField(max_length=255, unique=True)
    room = models.ForeignKey(SimulatedWebexRoom, on_delete=models.CASCADE, related_name="messages")
    bot = models.ForeignKey(SimulatedWebexBot, on_delete=models.CASCADE, related_name="messages")
    text = models.TextField(blank=True)
    markdown = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.message_id
