"""Threat Response accounts and Webex rooms: clients built from them, and the admin's connection tests."""

import logging

from django.conf import settings

from sync.clients.errors import ApiError
from sync.clients.threatresponse import ThreatResponseClient
from sync.clients.webex import WebexClient
from sync.crypto import Secret, SecretDecryptionError
from sync.models import ThreatResponseAccount, WebexRoom
from sync.services.organizations import ConnectionCheck, OrganizationConfigError

logger = logging.getLogger(__name__)


def _reveal(secret: Secret | None, *, what: str) -> str:
    if not secret:
        raise OrganizationConfigError(f"no {what} is set")
    try:
        return secret.reveal()
    except SecretDecryptionError as exc:
        raise OrganizationConfigError(str(exc)) from None


def build_threat_response_client(*, account: ThreatResponseAccount, **options) -> ThreatResponseClient:
    """The client for this account; `options` reach the client (tests pass a sleep that does not wait)."""
    return ThreatResponseClient(
        token_url=account.effective_token_url,
        intel_url=account.effective_intel_url,
        client_id=account.client_id,
        client_secret=_reveal(account.client_secret, what=f"client secret for Threat Response account {account}"),
        extra_allowed_hosts=settings.EXTRA_ALLOWED_API_HOSTS,
        **options,
    )


def build_webex_client(*, room: WebexRoom, **options) -> WebexClient:
    return WebexClient(
        base_url=room.base_url,
        token=_reveal(room.bot_token, what=f"bot token for Webex room {room}"),
        extra_allowed_hosts=settings.EXTRA_ALLOWED_API_HOSTS,
        **options,
    )


def webex_room_id(*, room: WebexRoom, client: WebexClient) -> str:
    """The room's id, looked up by title once and cached on the row."""
    if not room.room_id:
        room.room_id = client.find_room_id(room.room_title)
        WebexRoom.objects.filter(pk=room.pk).update(room_id=room.room_id)
    return room.room_id


def check_threat_response_credentials(*, account: ThreatResponseAccount) -> ConnectionCheck:
    """The admin's "Test credentials": fetch a token."""
    try:
        build_threat_response_client(account=account).check_credentials()
    except (OrganizationConfigError, ApiError) as exc:
        logger.info("credentials test failed account=%s: %s", account.pk, exc)
        return ConnectionCheck(ok=False, message=f"{account}: {exc}")
    return ConnectionCheck(ok=True, message=f"{account}: credentials accepted, token issued")


def send_test_message(*, room: WebexRoom) -> ConnectionCheck:
    """The admin's "Send test message": find the room and post to it."""
    try:
        client = build_webex_client(room=room)
        client.post_message(
            room_id=webex_room_id(room=room, client=client),
            markdown="**meraki-incidents** test message: alerts for this room arrive here.",
        )
    except (OrganizationConfigError, ApiError) as exc:
        logger.info("test message failed room=%s: %s", room.pk, exc)
        return ConnectionCheck(ok=False, message=f"{room}: {exc}")
    return ConnectionCheck(ok=True, message=f"{room}: test message sent to '{room.room_title}'")


def upsert_threat_response_account(
    *, name: str, region: str, client_id: str, client_secret: str, token_url: str = "", intel_url: str = ""
) -> tuple[ThreatResponseAccount, bool]:
    """Create or update the account matched on name; returns it and whether it was created."""
    account = ThreatResponseAccount.objects.filter(name=name).first() or ThreatResponseAccount(name=name)
    created = account.pk is None
    account.region, account.client_id, account.client_secret = region, client_id, client_secret
    account.token_url, account.intel_url = token_url, intel_url
    account.full_clean()
    account.save()
    return account, created


def upsert_webex_room(*, name: str, room_title: str, bot_token: str, base_url: str) -> tuple[WebexRoom, bool]:
    """Create or update the room matched on name; the cached room id is looked up again on next use."""
    room = WebexRoom.objects.filter(name=name).first() or WebexRoom(name=name)
    created = room.pk is None
    room.room_title, room.bot_token, room.base_url, room.room_id = room_title, bot_token, base_url, ""
    room.full_clean()
    room.save()
    return room, created
