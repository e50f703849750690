"""The one-command demo: two Meraki organizations, a Threat Response account and a Webex room, all simulated.

Demo credentials are derived from SECRET_KEY, so re-running the set-up finds and keeps the same ones; the
simulator stores only their digests and the product stores them encrypted, as it would real ones.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from sync.models import Organization, ThreatResponseAccount, WebexRoom
from sync.services.organizations import upsert_organization
from sync.simulator.setup import (
    create_meraki_organization,
    create_threat_response_client,
    create_webex_bot,
    create_webex_room,
)


@dataclass(frozen=True)
class DemoOrganization:
    name: str
    org_id: str
    events_per_hour: int


DEMO_ORGANIZATIONS = (
    DemoOrganization(name="Demo: Harbor Clinic", org_id="900001", events_per_hour=120),
    DemoOrganization(name="Demo: Northwind Retail", org_id="900002", events_per_hour=45),
)
DEMO_THREAT_RESPONSE_CLIENT_ID = "client-demo-meraki-incidents"
DEMO_ROOM_TITLE = "Meraki incidents (demo)"
# The first sync of a demo organization reaches back this far, so the dashboard has data at once.
DEMO_INITIAL_LOOKBACK = timedelta(hours=6)


def demo_secret(label: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"demo:{label}".encode(), hashlib.sha256).hexdigest()[:40]


@transaction.atomic
def set_up_demo(*, base_url: str) -> list[Organization]:
    """Create (or refresh) the simulated accounts and the product configuration that points at them."""
    simulator = f"{base_url.rstrip('/')}/simulator"

    client_secret = demo_secret("threat-response")
    create_threat_response_client(client_id=DEMO_THREAT_RESPONSE_CLIENT_ID, client_secret=client_secret)
    account, _ = ThreatResponseAccount.objects.update_or_create(
        name="Demo Threat Response (simulator)",
        defaults={
            "region": ThreatResponseAccount.Region.US,
            "client_id": DEMO_THREAT_RESPONSE_CLIENT_ID,
            "client_secret": client_secret,
            "token_url": f"{simulator}/threatresponse/iroh/oauth2/token",
            "intel_url": f"{simulator}/threatresponse",
        },
    )

    bot_token = demo_secret("webex-bot")
    create_webex_room(bot=create_webex_bot(name="Meraki incidents demo bot", token=bot_token), title=DEMO_ROOM_TITLE)
    room, _ = WebexRoom.objects.update_or_create(
        name="Demo Webex room (simulator)",
        defaults={"bot_token": bot_token, "room_title": DEMO_ROOM_TITLE, "base_url": f"{simulator}/webex/v1"},
    )

    organizations = []
    for demo in DEMO_ORGANIZATIONS:
        api_key = demo_secret(f"meraki-{demo.org_id}")
        create_meraki_organization(
            org_id=demo.org_id,
            name=demo.name,
            api_key=api_key,
            events_per_hour=demo.events_per_hour,
            seed=int(demo.org_id),
        )
        organization, _ = upsert_organization(
            name=demo.name,
            meraki_org_id=demo.org_id,
            api_key=api_key,
            base_url=f"{simulator}/meraki/api/v1",
            initial_lookback=DEMO_INITIAL_LOOKBACK,
        )
        organization.threat_response_account, organization.webex_room = account, room
        organization.save(update_fields=["threat_response_account", "webex_room"])
        organizations.append(organization)
    return organizations
