"""Simulated Webex REST API (`/simulator/webex/v1/`): the rooms and messages calls the product's alerts make.

Behaves as developer.webex.com documents (see shared notes, Part B): bot token in `Authorization: Bearer`,
rooms paged with `max` and an absolute `Link: <...>; rel="next"`, messages limited to 7439 bytes per field,
posting only to rooms the bot is a member of, and 429 + `Retry-After` when a fault says so.
"""

import base64
import binascii
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest, JsonResponse
from django.utils.text import slugify
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sync.simulator.faults import take_fault
from sync.simulator.models import SimulatedFault, SimulatedWebexBot, SimulatedWebexMessage, SimulatedWebexRoom, digest
from sync.simulator.setup import webex_id

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 7439
DEFAULT_MAX = 100
MAX_MAX = 1000
MAX_TITLE_LENGTH = SimulatedWebexRoom._meta.get_field("title").max_length
_UNAUTHORIZED = "The request requires a valid access token set in the Authorization request header."
_NOT_FOUND = "Could not find a room with provided ID."

# Tests replace this to observe slow responses without waiting.
_sleep = time.sleep


# --- responses -----------------------------------------------------------------------------------------------
def _error(status: int, message: str, *, headers: dict[str, str] | None = None) -> JsonResponse:
    """An error shaped as Webex sends them: message, errors[].description and a trackingId."""
    tracking_id = f"SIMULATOR_{uuid.uuid4()}"
    body = {"message": message, "errors": [{"description": message}], "trackingId": tracking_id}
    return JsonResponse(body, status=status, headers={"TrackingID": tracking_id, **(headers or {})})


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _person_id(bot: SimulatedWebexBot) -> str:
    return webex_id("PEOPLE", uuid.uuid5(uuid.NAMESPACE_URL, f"simulator-webex-bot:{bot.token_sha256}"))


def _person_email(bot: SimulatedWebexBot) -> str:
    return f"{slugify(bot.name) or f'bot-{bot.pk}'}@webex.bot"


def _room_json(room: SimulatedWebexRoom) -> dict[str, Any]:
    creator = min(room.members.all(), key=lambda member: member.pk, default=None)
    return {
        "id": room.room_id,
        "title": room.title,
        "type": "group",
        "isLocked": False,
        "lastActivity": _timestamp(getattr(room, "last_activity", None) or room.created_at),
        "created": _timestamp(room.created_at),
        "creatorId": _person_id(creator) if creator else "",
    }


def _message_json(message: SimulatedWebexMessage) -> dict[str, Any]:
    body = {
        "id": message.message_id,
        "roomId": message.room.room_id,
        "roomType": "group",
        # Webex always returns a plain-text rendering; the simulator does not render markdown, it echoes it.
        "text": message.text or message.markdown,
        "personId": _person_id(message.bot),
        "personEmail": _person_email(message.bot),
        "created": _timestamp(message.created_at),
    }
    if message.markdown:
        body["markdown"] = message.markdown
    return body


# --- request plumbing ----------------------------------------------------------------------------------------
def _authenticated_bot(request: HttpRequest) -> SimulatedWebexBot | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return SimulatedWebexBot.objects.filter(token_sha256=digest(token)).first()


def _fault_response() -> JsonResponse | None:
    """The answer an injected Webex fault imposes, if any (a slow fault only delays the normal answer)."""
    fault = take_fault(api=SimulatedFault.Api.WEBEX)
    if fault is None:
        return None
    if fault.kind == SimulatedFault.Kind.RATE_LIMIT:
        return _error(
            429,
            "Too many requests. Retry after the time given in Retry-After.",
            headers={"Retry-After": str(fault.retry_after)},
        )
    if fault.kind == SimulatedFault.Kind.SERVER_ERROR:
        return _error(500, "Internal server error (simulated fault).")
    if fault.kind == SimulatedFault.Kind.BAD_REQUEST:
        return _error(400, "The request was rejected (simulated fault).")
    if fault.kind == SimulatedFault.Kind.SLOW and fault.delay_seconds > 0:
        _sleep(fault.delay_seconds)
    return None


def _preamble(request: HttpRequest) -> tuple[SimulatedWebexBot | None, JsonResponse | None]:
    """Latency, authentication and faults, shared by every call: the bot, or the response to send instead."""
    if settings.SIMULATOR_LATENCY > 0:
        _sleep(settings.SIMULATOR_LATENCY)
    bot = _authenticated_bot(request)
    if bot is None:
        return None, _error(401, _UNAUTHORIZED)
    return bot, _fault_response()


def _json_object(request: HttpRequest) -> dict[str, Any] | None:
    try:
        payload = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _encode_cursor(room_pk: int) -> str:
    return base64.urlsafe_b64encode(f"after:{room_pk}".encode()).decode()


def _decode_cursor(cursor: str) -> int | None:
    try:
        prefix, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        return int(value) if prefix == "after" else None
    except (binascii.Error, UnicodeError, ValueError):
        return None


def _rooms_of(bot: SimulatedWebexBot) -> QuerySet[SimulatedWebexRoom]:
    return (
        SimulatedWebexRoom.objects.filter(members=bot)
        .annotate(last_activity=Coalesce(Max("messages__created_at"), "created_at"))
        .prefetch_related("members")
        .order_by("id")
    )


# --- views ---------------------------------------------------------------------------------------------------
@csrf_exempt
@require_http_methods(["GET", "POST"])
def rooms(request: HttpRequest) -> JsonResponse:
    bot, refusal = _preamble(request)
    if refusal is not None:
        return refusal
    if request.method == "POST":
        return _create_room(request, bot)
    return _list_rooms(request, bot)


def _list_rooms(request: HttpRequest, bot: SimulatedWebexBot) -> JsonResponse:
    try:
        page_size = int(request.GET.get("max", DEFAULT_MAX))
    except ValueError:
        page_size = 0
    if not 1 <= page_size <= MAX_MAX:
        return _error(400, f"max must be an integer between 1 and {MAX_MAX}.")
    room_type = request.GET.get("type", "")
    if room_type not in ("", "group", "direct"):
        return _error(400, "type must be direct or group.")
    queryset = _rooms_of(bot)
    if room_type == "direct":  # the simulator only has group rooms
        queryset = queryset.none()
    if "cursor" in request.GET:
        after = _decode_cursor(request.GET["cursor"])
        if after is None:
            return _error(400, "Invalid cursor.")
        queryset = queryset.filter(id__gt=after)
    page = list(queryset[: page_size + 1])
    response = JsonResponse({"items": [_room_json(room) for room in page[:page_size]]})
    if len(page) > page_size:
        query = request.GET.copy()
        query["max"] = str(page_size)
        query["cursor"] = _encode_cursor(page[page_size - 1].pk)
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


def _create_room(request: HttpRequest, bot: SimulatedWebexBot) -> JsonResponse:
    payload = _json_object(request)
    if payload is None:
        return _error(400, "The request body must be a JSON object.")
    title = payload.get("title")
    if not isinstance(title, str) or not title.strip():
        return _error(400, "title is required.")
    if len(title) > MAX_TITLE_LENGTH:
        return _error(400, f"title must be at most {MAX_TITLE_LENGTH} characters.")
    with transaction.atomic():
        room = SimulatedWebexRoom.objects.create(room_id=webex_id("ROOM", uuid.uuid4()), title=title)
        room.members.add(bot)
    logger.info("simulated webex room created room=%s bot=%s", room.pk, bot.pk)
    return JsonResponse(_room_json(room))


@csrf_exempt
@require_http_methods(["POST"])
def messages(request: HttpRequest) -> JsonResponse:
    bot, refusal = _preamble(request)
    if refusal is not None:
        return refusal
    payload = _json_object(request)
    if payload is None:
        return _error(400, "The request body must be a JSON object.")
    room_id = payload.get("roomId")
    if not isinstance(room_id, str) or not room_id:
        return _error(400, "roomId is required (the simulator supports messages to rooms only).")
    contents = {field: payload.get(field) for field in ("text", "markdown")}
    if any(value is not None and not isinstance(value, str) for value in contents.values()):
        return _error(400, "text and markdown must be strings.")
    if not any(contents.values()):
        return _error(400, "text or markdown is required.")
    for field, value in contents.items():
        size = len((value or "").encode("utf-8"))
        if size > MAX_MESSAGE_BYTES:
            return _error(
                400, f"{field} is {size} bytes long; the maximum message length is {MAX_MESSAGE_BYTES} bytes."
            )
    room = SimulatedWebexRoom.objects.filter(room_id=room_id, members=bot).first()
    if room is None:  # unknown and not-a-member look the same, as they do to a real bot
        return _error(404, _NOT_FOUND)
    message = SimulatedWebexMessage.objects.create(
        message_id=webex_id("MESSAGE", uuid.uuid4()),
        room=room,
        bot=bot,
        text=contents["text"] or "",
        markdown=contents["markdown"] or "",
    )
    logger.info("simulated webex message stored message=%s room=%s bot=%s", message.pk, room.pk, bot.pk)
    return JsonResponse(_message_json(message))
