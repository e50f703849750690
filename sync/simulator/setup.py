"""Create the simulated credentials and places the demo and the tests start from.

Each function is idempotent: it updates the row found by the natural key (organization id, client id, bot
token, bot + room title) instead of adding a second one, so a demo setup can run again. Secrets are stored
only as SHA-256 digests (`digest()`); the clear value lives in the product's own (encrypted) configuration.
"""

import base64
import uuid

from django.db import transaction

from sync.simulator.models import (
    SimulatedMerakiOrganization,
    SimulatedThreatResponseClient,
    SimulatedWebexBot,
    SimulatedWebexRoom,
    digest,
)

THREAT_RESPONSE_REGIONS = ("us", "eu", "apjc")
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://meraki-incidents.invalid/simulator")


def webex_id(kind: str, value: uuid.UUID) -> str:
    """A Webex-style id: unpadded base64 of `ciscospark://us/<KIND>/<uuid>`.

    Room ids therefore start with `Y2lzY29zcGFyazovL3VzL1JPT00v`, as real ones do.
    """
    return base64.b64encode(f"ciscospark://us/{kind}/{value}".encode()).decode().rstrip("=")


def create_meraki_organization(
    *, org_id: str, name: str, api_key: str, events_per_hour: int = 60, seed: int = 0
) -> SimulatedMerakiOrganization:
    """The organization `org_id`, readable with `api_key`; its served-request counters are kept on update."""
    if not org_id or not api_key:
        raise ValueError("org_id and api_key must not be empty")
    organization, _ = SimulatedMerakiOrganization.objects.update_or_create(
        org_id=org_id,
        defaults={"name": name, "api_key_sha256": digest(api_key), "events_per_hour": events_per_hour, "seed": seed},
    )
    return organization


def create_threat_response_client(
    *, client_id: str, client_secret: str, region: str = "us"
) -> SimulatedThreatResponseClient:
    """An API client the simulated token endpoint accepts with HTTP Basic `client_id:client_secret`."""
    if not client_id or not client_secret:
        raise ValueError("client_id and client_secret must not be empty")
    if region not in THREAT_RESPONSE_REGIONS:
        raise ValueError(f"region must be one of {', '.join(THREAT_RESPONSE_REGIONS)}, got {region!r}")
    client, _ = SimulatedThreatResponseClient.objects.update_or_create(
        client_id=client_id, defaults={"client_secret_sha256": digest(client_secret), "region": region}
    )
    return client


def create_webex_bot(*, name: str, token: str) -> SimulatedWebexBot:
    """A bot the simulated Webex API knows by its access token (the natural key); `name` is updated."""
    if not token:
        raise ValueError("token must not be empty")
    bot, _ = SimulatedWebexBot.objects.update_or_create(token_sha256=digest(token), defaults={"name": name})
    return bot


def create_webex_room(*, bot: SimulatedWebexBot, title: str) -> SimulatedWebexRoom:
    """A group room titled `title` with `bot` as a member.

    The room id is derived from the bot and the title, so calling again returns the same room; a room of the
    same title created through the simulated API is a different room, as titles are not unique in Webex.
    """
    if not title:
        raise ValueError("title must not be empty")
    room_uuid = uuid.uuid5(_NAMESPACE, f"room:{bot.token_sha256}:{title}")
    with transaction.atomic():
        room, _ = SimulatedWebexRoom.objects.update_or_create(
            room_id=webex_id("ROOM", room_uuid), defaults={"title": title}
        )
        room.members.add(bot)
    return room
