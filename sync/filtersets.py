"""The analyst's event filters, shared by the events page, the dashboard's links and the JSON API.

Every filter is a GET parameter, so a filtered list is a URL: it can be bookmarked, shared and kept across actions.
"""

import re
from datetime import UTC, datetime
from urllib.parse import urlencode

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sync.models import NotificationStatus, Organization, PromotionStatus
from sync.services.normalize import parse_address

_MAC = re.compile(r"(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}", re.IGNORECASE)
_HASH = re.compile(r"[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}", re.IGNORECASE)
_SIGNATURE = re.compile(r"\d+:\d+:\d+")
_ANY = [("", "Any")]


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's date-and-time picker; the field still accepts ISO 8601 (with an offset or Z) from URLs."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")

    def format_value(self, value):
        # A URL's "2026-03-10T12:00:00Z" is shown as the picker's local "2026-03-10T12:00", which the browser
        # accepts (it would show an empty field, and drop the filter on the next submit, for the ISO form).
        if isinstance(value, str) and (parsed := _parse_datetime(value)) is not None:
            value = timezone.localtime(parsed) if timezone.is_aware(parsed) else parsed
        if isinstance(value, datetime) and value.second:
            return value.strftime("%Y-%m-%dT%H:%M:%S")
        return super().format_value(value)


class EventFilterForm(forms.Form):
    """Filters and search over security events. Bind it to request.GET; invalid fields are ignored, not fatal."""

    organization = forms.ModelChoiceField(
        queryset=Organization.objects.order_by("name", "pk"), required=False, empty_label="All organizations"
    )
    event_type = forms.CharField(required=False, max_length=128, label="Event type")
    priority = forms.TypedChoiceField(
        choices=_ANY + [(str(n), str(n)) for n in range(1, 5)], coerce=int, empty_value=None, required=False
    )
    disposition = forms.CharField(required=False, max_length=64)
    blocked = forms.ChoiceField(choices=[*_ANY, ("yes", "Blocked"), ("no", "Not blocked")], required=False)
    promotion = forms.ChoiceField(choices=_ANY + PromotionStatus.choices, required=False, label="Promotion")
    notification = forms.ChoiceField(choices=_ANY + NotificationStatus.choices, required=False, label="Notification")
    since = forms.DateTimeField(required=False, widget=DateTimeLocalInput(), label="From")
    until = forms.DateTimeField(required=False, widget=DateTimeLocalInput(), label="Until")
    q = forms.CharField(
        required=False,
        max_length=255,
        label="Search",
        widget=forms.TextInput(attrs={"size": 36, "type": "search"}),
        help_text="IP address, MAC address, file hash, signature (1:2:3), or words of the message or client name.",
    )

    def clean_q(self) -> str:
        return self.cleaned_data["q"].strip()

    def clean_since(self) -> datetime | None:
        return _in_utc(self.cleaned_data["since"])

    def clean_until(self) -> datetime | None:
        return _in_utc(self.cleaned_data["until"])

    def _valid_data(self) -> dict:
        """The cleaned values of the valid fields (an invalid one is shown as an error and otherwise ignored)."""
        self.is_valid()
        return self.cleaned_data

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        """The queryset narrowed by every valid, non-empty filter."""
        data = self._valid_data()
        if organization := data.get("organization"):
            queryset = queryset.filter(organization=organization)
        if event_type := data.get("event_type"):
            queryset = queryset.filter(event_type=event_type)
        if (priority := data.get("priority")) is not None:
            queryset = queryset.filter(priority=priority)
        if disposition := data.get("disposition"):
            queryset = queryset.filter(disposition=disposition)
        if blocked := data.get("blocked"):
            queryset = queryset.filter(blocked=blocked == "yes")
        if promotion := data.get("promotion"):
            queryset = queryset.filter(promotion_status=promotion)
        if notification := data.get("notification"):
            queryset = queryset.filter(notification_status=notification)
        if since := data.get("since"):
            queryset = queryset.filter(ts__gte=since)
        if until := data.get("until"):
            queryset = queryset.filter(ts__lt=until)
        if q := data.get("q"):
            queryset = queryset.filter(search_condition(q))
        return queryset

    def query_string(self) -> str:
        """The active, valid filters as they were given, urlencoded (empty when none): for links that keep them."""
        data = self._valid_data()
        pairs = [
            (name, self.data.get(name, ""))
            for name in self.fields
            if name in data and data[name] not in (None, "") and self.data.get(name, "") != ""
        ]
        return urlencode(pairs)

    @property
    def is_filtered(self) -> bool:
        return bool(self.query_string())


def _in_utc(value: datetime | None) -> datetime | None:
    """The time in UTC, as the database compares it. PostgreSQL refuses offsets beyond ±15:59 (RFC 3339 allows
    ±23:59), and 0001-01-01T00:00+01:00 has no UTC equivalent: both would be a 500, not a filter."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise forms.ValidationError("Enter a time between the years 1 and 9999 in UTC.", code="invalid") from None


def search_condition(q: str) -> Q:
    """What the search box matches: exact on addresses, hashes and signatures (indexed), words elsewhere."""
    if address := parse_address(q):
        ip, port = address
        if port is None:
            return Q(src_ip=ip) | Q(dest_ip=ip) | Q(client_ip=ip)
        return Q(src_ip=ip, src_port=port) | Q(dest_ip=ip, dest_port=port)
    if _MAC.fullmatch(q):
        mac = q.lower().replace("-", ":")
        return Q(client_mac=mac) | Q(device_mac=mac)
    if _HASH.fullmatch(q):
        return Q(file_hash=q.lower())
    if _SIGNATURE.fullmatch(q):
        return Q(signature=q)
    return (
        Q(message__icontains=q)
        | Q(signature__icontains=q)
        | Q(client_name__icontains=q)
        | Q(canonical_name__icontains=q)
    )


def _parse_datetime(value: str) -> datetime | None:
    try:
        return parse_datetime(value.strip())
    except ValueError:
        return None
