"""What the JSON API shows and accepts.

Every serializer names its fields one by one: an organization appears only as {id, name, meraki_org_id}, and no
secret (Meraki API key, Threat Response client secret, Webex bot token) is reachable from any of them.
"""

from django import forms
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from sync.filtersets import EventFilterForm
from sync.models import Incident, Organization, PromotionAttempt, SecurityEvent, SyncRun
from sync.selectors.incidents import DETAIL_EVENTS

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_REPUSH = 500
MAX_ID = 2**63 - 1  # the largest id either database stores; larger ones are refused, not sent to it


# --- the event filters, described once from the page's form ----------------------------------------------------


def form_field_schema(field: forms.Field) -> dict:
    """The OpenAPI schema of one EventFilterForm field, so the API documents exactly what the page accepts."""
    if isinstance(field, forms.ModelChoiceField):
        schema = {"type": "integer", "minimum": 1}
    elif isinstance(field, forms.TypedChoiceField) and field.coerce is int:
        schema = {"type": "integer", "enum": [int(value) for value, _ in field.choices if value != ""]}
    elif isinstance(field, forms.ChoiceField):
        schema = {"type": "string", "enum": [value for value, _ in field.choices if value != ""]}
    elif isinstance(field, forms.DateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(field, forms.CharField):
        schema = {"type": "string", **({"maxLength": field.max_length} if field.max_length else {})}
    else:  # a new kind of field must be described here before the schema can claim to know it
        raise TypeError(f"no OpenAPI schema for form field {type(field).__name__}")
    return schema


# What each filter does, for readers of the schema; a filter added to the form without one gets its help text.
FILTER_DESCRIPTIONS = {
    "organization": "Only this organization's events (its id).",
    "event_type": "Exact event type, e.g. `IDS Alert`, `File Scanned`.",
    "priority": "IDS priority, 1 the most severe.",
    "disposition": "Exact disposition, e.g. `Malicious`.",
    "blocked": "`yes`: blocked by the MX; `no`: not blocked.",
    "promotion": "Promotion status (Threat Response).",
    "notification": "Notification status (Webex).",
    "since": "Events at or after this time (ISO 8601, with an offset; without one, the server's time zone).",
    "until": "Events before this time (ISO 8601).",
}
EVENT_FILTER_SCHEMAS = {name: form_field_schema(field) for name, field in EventFilterForm.base_fields.items()}
EVENT_FILTER_DESCRIPTIONS = {
    name: FILTER_DESCRIPTIONS.get(name) or str(field.help_text or field.label or name)
    for name, field in EventFilterForm.base_fields.items()
}


def form_errors(form: forms.Form) -> dict[str, list[str]]:
    """The form's errors as DRF shows its own: {field: [message, ...]}."""
    return {name: [error["message"] for error in errors] for name, errors in form.errors.get_json_data().items()}


def _form_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # `blocked` takes yes/no; JSON true/false are the obvious spelling of it
        return "yes" if value else "no"
    if isinstance(value, int | float | str):
        return str(value)
    raise serializers.ValidationError("Expected a string or a number.")


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            name: {**schema, "description": EVENT_FILTER_DESCRIPTIONS[name]}
            for name, schema in EVENT_FILTER_SCHEMAS.items()
        },
        "additionalProperties": False,
        "description": "The events page's filters (the same keys as its query parameters).",
    }
)
class EventFilterField(serializers.Field):
    """A JSON object of the page's filters, validated by the page's own form; the value is the bound form."""

    def to_internal_value(self, data) -> EventFilterForm:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Expected an object of filters.")
        if unknown := sorted(set(data) - set(EventFilterForm.base_fields)):
            raise serializers.ValidationError(f"Unknown filters: {', '.join(map(str, unknown))[:200]}.")
        errors, form_data = {}, {}
        for name, value in data.items():
            try:
                form_data[name] = _form_value(value)
            except serializers.ValidationError as exc:
                errors[name] = exc.detail
        if errors:
            raise serializers.ValidationError(errors)
        form = EventFilterForm(data=form_data)
        if not form.is_valid():
            raise serializers.ValidationError(form_errors(form))
        return form

    def to_representation(self, value):  # write-only
        raise NotImplementedError


# --- query parameters -------------------------------------------------------------------------------------------


class LimitQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT, help_text="Items per page."
    )


class CursorQuerySerializer(LimitQuerySerializer):
    cursor = serializers.CharField(
        required=False, max_length=512, help_text="The opaque cursor from the previous page's `next` link."
    )


class PageNumberQuerySerializer(LimitQuerySerializer):
    page = serializers.IntegerField(
        required=False, min_value=1, max_value=1_000_000, default=1, help_text="Page number."
    )


class OrganizationQuerySerializer(serializers.Serializer):
    organization = serializers.PrimaryKeyRelatedField(
        queryset=Organization.objects.all(), required=False, help_text="Only this organization's (its id)."
    )


class IncidentQuerySerializer(OrganizationQuerySerializer, PageNumberQuerySerializer):
    pass


class SyncRunQuerySerializer(OrganizationQuerySerializer, CursorQuerySerializer):
    pass


# --- shown --------------------------------------------------------------------------------------------------------


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "meraki_org_id"]


class IncidentSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Incident
        fields = ["id", "ctia_id", "title", "severity", "status", "console_url"]


EVENT_FIELDS = [
    "id",
    "organization",
    "ts",
    "event_type",
    "priority",
    "classification",
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
    "protocol",
    "client_mac",
    "client_name",
    "client_ip",
    "device_mac",
    "uri",
    "canonical_name",
    "file_hash",
    "file_type",
    "disposition",
    "action",
    "blocked",
    "message",
    "signature",
    "rule_id",
    "parse_error",
    "promotion_status",
    "notification_status",
    "incident",
    "created_at",
]


class EventSerializer(serializers.ModelSerializer):
    """An event in a list: its fields and statuses, without the raw JSON."""

    organization = OrganizationSerializer(read_only=True)
    incident = IncidentSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = SecurityEvent
        fields = EVENT_FIELDS
        read_only_fields = EVENT_FIELDS


class AttemptSerializer(serializers.ModelSerializer):
    started_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = PromotionAttempt
        fields = ["id", "kind", "trigger", "outcome", "error", "started_by", "created_at"]
        read_only_fields = fields


EVENT_DETAIL_FIELDS = [
    *EVENT_FIELDS,
    "fingerprint",
    "raw",
    "promotion_error",
    "promotion_attempts",
    "promotion_attempted_at",
    "ctia_sighting_id",
    "ctia_relationship_id",
    "notification_error",
    "notification_attempts",
    "notification_attempted_at",
    "webex_message_id",
    "first_seen_run",
    "attempts",
]


class EventDetailSerializer(EventSerializer):
    """One event: every field, the raw JSON as received, and the history of promotion and notification attempts."""

    raw = serializers.JSONField(read_only=True, allow_null=True, help_text="The event as Meraki sent it.")
    first_seen_run = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    attempts = serializers.SerializerMethodField()

    class Meta:
        model = SecurityEvent
        fields = EVENT_DETAIL_FIELDS
        read_only_fields = EVENT_DETAIL_FIELDS

    @extend_schema_field(AttemptSerializer(many=True))
    def get_attempts(self, event: SecurityEvent) -> list:
        return AttemptSerializer(self.context["attempts"], many=True).data


class IncidentEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = SecurityEvent
        fields = ["id", "ts", "event_type", "priority", "signature", "message", "promotion_status",
                  "notification_status"]  # fmt: skip
        read_only_fields = fields


INCIDENT_FIELDS = ["id", "organization", "ctia_id", "external_id", "title", "severity", "status", "console_url",
                   "created_at", "event_count"]  # fmt: skip


class IncidentSerializer(serializers.ModelSerializer):
    organization = OrganizationSerializer(read_only=True)
    event_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Incident
        fields = INCIDENT_FIELDS
        read_only_fields = INCIDENT_FIELDS


class IncidentDetailSerializer(IncidentSerializer):
    events = serializers.SerializerMethodField(help_text=f"Its events, newest first (at most {DETAIL_EVENTS}).")

    class Meta:
        model = Incident
        fields = [*(name for name in INCIDENT_FIELDS if name != "event_count"), "events"]
        read_only_fields = fields

    @extend_schema_field(IncidentEventSerializer(many=True))
    def get_events(self, incident: Incident) -> list:
        return IncidentEventSerializer(self.context["events"], many=True).data


class SyncRunSerializer(serializers.ModelSerializer):
    organization = OrganizationSerializer(read_only=True)
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = SyncRun
        fields = ["id", "organization", "trigger", "status", "started_at", "finished_at", "duration_seconds", "t0",
                  "t1", "pages", "fetched", "created", "duplicates", "malformed", "rate_limited", "error"]  # fmt: skip
        read_only_fields = fields

    def get_duration_seconds(self, run: SyncRun) -> float | None:
        return run.duration.total_seconds() if run.duration is not None else None


def page_serializer(item: type[serializers.Serializer], *, name: str) -> serializers.Serializer:
    """The shape of a list answer: one page of items and the URL of the next (null on the last page)."""
    return inline_serializer(
        name=name,
        fields={
            "results": item(many=True),
            "next": serializers.URLField(allow_null=True, help_text="The next page; null on the last one."),
        },
    )


# --- re-push ------------------------------------------------------------------------------------------------------


class RepushRequestSerializer(serializers.Serializer):
    """Either `ids` (those events) or `filter` (the failed events it matches, at most 500), not both."""

    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        min_length=1,
        max_length=MAX_REPUSH,
        help_text=f"Events to re-push (at most {MAX_REPUSH}); those never eligible for promotion are skipped.",
    )
    filter = EventFilterField(
        required=False,
        help_text=f"Re-push the failed events matching these filters (the newest {MAX_REPUSH} at most).",
    )

    def validate(self, attrs: dict) -> dict:
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError("Give either `ids` or `filter`.")
        return attrs


class AttemptCountsSerializer(serializers.Serializer):
    succeeded = serializers.IntegerField()
    retry = serializers.IntegerField(help_text="Transient failures: left pending for the next run.")
    failed = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.CharField())


class RepushOrganizationSerializer(serializers.Serializer):
    organization = OrganizationSerializer()
    skipped = serializers.BooleanField(help_text="True when another promotion of this organization was running.")
    summary = serializers.CharField()
    promotion = AttemptCountsSerializer()
    notification = AttemptCountsSerializer()


class RepushResponseSerializer(serializers.Serializer):
    selected = serializers.IntegerField(help_text="Events sent to re-push.")
    truncated = serializers.BooleanField(help_text=f"True when the filter matched more than {MAX_REPUSH}.")
    organizations = RepushOrganizationSerializer(many=True)


# --- errors -------------------------------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "What was wrong, by parameter: a list of messages each (`detail` for a malformed request).",
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}, {"type": "object"}]
    },
}
