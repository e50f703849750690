"""The simulator's own page (`GET /simulator/`) and fault-injection endpoint (`/simulator/control/faults`).

Both are for staff users only, authenticated by their admin session (log in at /admin/ first):

- `GET /simulator/` shows what each simulated API served and received; anyone else is sent to the admin login.
- `GET|POST|DELETE /simulator/control/faults` lists, adds and clears injected faults; anyone else gets 403.
  Being session-authenticated, POST and DELETE need Django's CSRF token like any form: send the `csrftoken`
  cookie's value in an `X-CSRFToken` header (Django's test client skips this check). Example body:
  `{"api": "webex", "kind": "rate_limit", "retry_after": 2, "remaining": 1}`. Fields: `api` (meraki,
  threatresponse, webex), `kind` (server_error, rate_limit, slow; redirect and malformed for meraki only;
  bad_request for the others),
  and optional `org_id` (meraki only), `skip`, `remaining`, `retry_after`, `delay_seconds` (slow) and
  `shard_host` (redirect). Tests and scripts can call `SimulatedFault.objects.create` directly instead.
"""

import json
import logging
import re
from typing import Any

from django import forms
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from sync.simulator.models import (
    CtiaEntity,
    SimulatedFault,
    SimulatedMerakiOrganization,
    SimulatedThreatResponseClient,
    SimulatedWebexBot,
    SimulatedWebexMessage,
    SimulatedWebexRoom,
)

logger = logging.getLogger(__name__)

LATEST_ROWS = 50
MAX_DELAY_SECONDS = 120.0
MAX_RETRY_AFTER = 3600
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")
_MERAKI_ONLY_KINDS = {SimulatedFault.Kind.REDIRECT, SimulatedFault.Kind.MALFORMED}
_NOT_MERAKI_KINDS = {SimulatedFault.Kind.BAD_REQUEST}


class FaultForm(forms.Form):
    api = forms.ChoiceField(choices=SimulatedFault.Api.choices)
    kind = forms.ChoiceField(choices=SimulatedFault.Kind.choices)
    org_id = forms.CharField(max_length=64, required=False)
    skip = forms.IntegerField(min_value=0, max_value=1_000_000, required=False)
    remaining = forms.IntegerField(min_value=1, max_value=1_000_000, required=False)
    retry_after = forms.IntegerField(min_value=0, max_value=MAX_RETRY_AFTER, required=False)
    # Bounded so a typo cannot hang a worker for hours.
    delay_seconds = forms.FloatField(min_value=0, max_value=MAX_DELAY_SECONDS, required=False)
    shard_host = forms.CharField(max_length=255, required=False)

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(data={key: value for key, value in payload.items() if value is not None})
        self._payload = payload

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for key in sorted(set(self._payload) - set(self.fields)):
            self.add_error(None, f"unknown field: {key}")
        for key, value in self._payload.items():
            if key in self.fields and isinstance(value, bool | list | dict):
                self.add_error(key, "Must be a string or a number.")
        api, kind = data.get("api"), data.get("kind")
        if kind in _MERAKI_ONLY_KINDS and api and api != SimulatedFault.Api.MERAKI:
            self.add_error("kind", "Only the Meraki API supports this kind of fault.")
        if kind in _NOT_MERAKI_KINDS and api == SimulatedFault.Api.MERAKI:
            self.add_error("kind", "Only the Threat Response and Webex APIs support this kind of fault.")
        if data.get("org_id") and api and api != SimulatedFault.Api.MERAKI:
            self.add_error("org_id", "Only Meraki faults can be limited to an organization.")
        if kind == SimulatedFault.Kind.REDIRECT and not data.get("shard_host"):
            self.add_error("shard_host", "A redirect fault needs the shard host (host[:port]) to redirect to.")
        if data.get("shard_host"):
            if kind != SimulatedFault.Kind.REDIRECT:
                self.add_error("shard_host", "Only redirect faults take a shard host.")
            elif not _HOST_PORT.match(data["shard_host"]):
                self.add_error("shard_host", "Give a host or host:port, without scheme or path.")
        if kind == SimulatedFault.Kind.SLOW and not data.get("delay_seconds"):
            self.add_error("delay_seconds", "A slow fault needs delay_seconds greater than 0.")
        return data

    def fault_fields(self) -> dict[str, Any]:
        """The validated values, with the model's defaults for those not given."""
        data = self.cleaned_data
        return {
            "api": data["api"],
            "kind": data["kind"],
            "org_id": data.get("org_id") or "",
            "skip": 0 if data.get("skip") is None else data["skip"],
            "remaining": data.get("remaining") or 1,
            "retry_after": 1 if data.get("retry_after") is None else data["retry_after"],
            "delay_seconds": data.get("delay_seconds") or 0.0,
            "shard_host": data.get("shard_host") or "",
        }


def _fault_json(fault: SimulatedFault) -> dict[str, Any]:
    return {
        "id": fault.pk,
        "api": fault.api,
        "kind": fault.kind,
        "org_id": fault.org_id,
        "skip": fault.skip,
        "remaining": fault.remaining,
        "retry_after": fault.retry_after,
        "delay_seconds": fault.delay_seconds,
        "shard_host": fault.shard_host,
        "fired": fault.fired,
        "created_at": fault.created_at.isoformat(),
    }


def _ctia_title(body: Any) -> str:
    title = body.get("title") if isinstance(body, dict) else None
    return title if isinstance(title, str) else ""


def _strings(values: Any) -> list[str]:
    return [str(value) for value in values] if isinstance(values, list) else []


def simulator_overview() -> dict[str, Any]:
    """Everything the simulator page shows, in a fixed number of queries."""
    entities = CtiaEntity.objects.order_by("-id")[:LATEST_ROWS]
    return {
        "organizations": SimulatedMerakiOrganization.objects.order_by("name", "org_id"),
        "threat_response_clients": SimulatedThreatResponseClient.objects.order_by("client_id"),
        "ctia_counts": CtiaEntity.objects.values("entity_type").annotate(count=Count("id")).order_by("entity_type"),
        "ctia_entities": [
            {"entity": entity, "title": _ctia_title(entity.body), "external_ids": _strings(entity.external_ids)}
            for entity in entities
        ],
        "bots": SimulatedWebexBot.objects.order_by("name", "id"),
        "rooms": SimulatedWebexRoom.objects.annotate(message_count=Count("messages"))
        .prefetch_related(Prefetch("members", queryset=SimulatedWebexBot.objects.order_by("name", "id")))
        .order_by("id"),
        "webex_messages": SimulatedWebexMessage.objects.select_related("room", "bot").order_by("-id")[:LATEST_ROWS],
        "faults": SimulatedFault.objects.filter(remaining__gt=0).order_by("id"),
        "latest_rows": LATEST_ROWS,
    }


@require_GET
@staff_member_required
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "simulator/index.html", simulator_overview())


@require_http_methods(["GET", "POST", "DELETE"])
def faults(request: HttpRequest) -> JsonResponse:
    if not (request.user.is_active and request.user.is_staff):
        return JsonResponse({"message": "Staff only: log in at /admin/ as a staff user first."}, status=403)
    if request.method == "GET":
        return JsonResponse({"items": [_fault_json(fault) for fault in SimulatedFault.objects.order_by("id")]})
    if request.method == "DELETE":
        deleted, _ = SimulatedFault.objects.all().delete()
        logger.info("simulated faults cleared count=%s user=%s", deleted, request.user.pk)
        return JsonResponse({"deleted": deleted})
    try:
        payload = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict):
        return JsonResponse({"message": "The request body must be a JSON object."}, status=400)
    form = FaultForm(payload)
    if not form.is_valid():
        return JsonResponse({"message": "Invalid fault.", "errors": form.errors.get_json_data()}, status=400)
    fault = SimulatedFault.objects.create(**form.fault_fields())
    logger.info(
        "simulated fault added fault=%s api=%s kind=%s user=%s", fault.pk, fault.api, fault.kind, request.user.pk
    )
    return JsonResponse(_fault_json(fault), status=201)
