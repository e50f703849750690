"""The built-in simulator as the product's own tests use it: mounted on pytest-django's live_server, with an
organization whose Threat Response account and Webex room are the simulated ones (reached over real HTTP)."""

from sync.models import Organization, ThreatResponseAccount, WebexRoom
from sync.simulator.setup import create_threat_response_client, create_webex_bot, create_webex_room
from tests.factories import make_organization

CLIENT_ID, CLIENT_SECRET, BOT_TOKEN, ROOM_TITLE = "client-test", "secret-test-1234", "bot-token-test-5678", "SOC"


def mount_simulator(live_server, settings) -> str:
    """Serve the simulator (as SIMULATOR_ENABLED=true does) and let the clients reach it; returns its base URL."""
    settings.SIMULATOR_ENABLED = True
    settings.ROOT_URLCONF = "tests.simulator.urlconf"
    settings.EXTRA_ALLOWED_API_HOSTS = ["localhost"]
    create_threat_response_client(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    create_webex_room(bot=create_webex_bot(name="bot", token=BOT_TOKEN), title=ROOM_TITLE)
    return f"{live_server.url}/simulator"


def link_to_simulator(simulator: str, **organization_fields) -> Organization:
    """A new organization promoting to the simulated Threat Response and notifying the simulated Webex room."""
    account = ThreatResponseAccount.objects.create(
        name=f"TR for {organization_fields.get('name', 'test')}",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_url=f"{simulator}/threatresponse/iroh/oauth2/token",
        intel_url=f"{simulator}/threatresponse",
    )
    room = WebexRoom.objects.create(
        name=f"SOC for {organization_fields.get('name', 'test')}",
        room_title=ROOM_TITLE,
        bot_token=BOT_TOKEN,
        base_url=f"{simulator}/webex/v1",
    )
    return make_organization(threat_response_account=account, webex_room=room, **organization_fields)
