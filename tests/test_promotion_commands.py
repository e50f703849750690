"""The promotion set-up and re-push commands as an operator runs them, against the built-in simulator.

add_threat_response_account, add_webex_room and add_organization's links only touch the database. sync_events
and repush use the real clients built from the stored accounts: Meraki is faked with `responses` (which
intercepts every request, so the live server is let through) and Threat Response and Webex are the simulator
over real HTTP (pytest-django's live_server).
"""

import re
from datetime import timedelta
from io import StringIO

import pytest
import responses
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from sync.models import (
    NotificationStatus,
    Organization,
    PromotionAttempt,
    PromotionStatus,
    SecurityEvent,
    ThreatResponseAccount,
    WebexRoom,
)
from sync.services.pipeline import promote_and_notify
from sync.simulator.models import CtiaEntity, SimulatedFault, SimulatedWebexMessage
from tests import test_promotion
from tests.factories import TEST_API_KEY, ids_events
from tests.fakes import FakeMeraki
from tests.test_promotion import OFFICIAL_EVENTS, ingest

# An organization promoting to the simulator, from tests/test_promotion.py (pytest finds fixtures by name).
organization = test_promotion.organization

TR_SECRET = "tr-client-secret-0123456789-wxyz"
NEW_TR_SECRET = "tr-client-secret-9876543210-abcd"
BOT_TOKEN = "webex-bot-token-0123456789-qrst"
NEW_BOT_TOKEN = "webex-bot-token-9876543210-mnop"
live = pytest.mark.django_db(transaction=True)


def run_command(name: str, *args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def stored_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 -- names are constants
        return cursor.fetchone()[0]


# --- add_threat_response_account -------------------------------------------------------------------------------


@pytest.fixture
def tr_secret_env(monkeypatch) -> str:
    monkeypatch.setenv("TEST_TR_SECRET", TR_SECRET)
    return "TEST_TR_SECRET"


def add_account(*args: str) -> str:
    return run_command("add_threat_response_account", *args)


def test_add_threat_response_account_creates_it_with_the_secret_from_the_named_variable(db, tr_secret_env):
    output = add_account("--name", "XDR", "--client-id", "client-1", "--client-secret-env", tr_secret_env)

    account = ThreatResponseAccount.objects.get()
    assert (account.name, account.region, account.client_id) == ("XDR", "us", "client-1")
    assert account.client_secret.reveal() == TR_SECRET
    assert output.strip() == "created Threat Response account XDR"


def test_add_threat_response_account_stores_the_secret_encrypted(db, tr_secret_env):
    add_account("--name", "XDR", "--client-id", "client-1", "--client-secret-env", tr_secret_env)

    raw = stored_column("sync_threatresponseaccount", "client_secret", ThreatResponseAccount.objects.get().pk)
    assert raw and raw != TR_SECRET
    assert TR_SECRET not in raw


def test_add_threat_response_account_again_with_the_same_name_updates_it(db, tr_secret_env, monkeypatch):
    add_account("--name", "XDR", "--client-id", "client-1", "--client-secret-env", tr_secret_env)
    first = ThreatResponseAccount.objects.get()
    monkeypatch.setenv(tr_secret_env, NEW_TR_SECRET)

    output = add_account(
        "--name", "XDR", "--client-id", "client-2", "--client-secret-env", tr_secret_env, "--region", "eu"
    )

    updated = ThreatResponseAccount.objects.get()
    assert updated.pk == first.pk
    assert (updated.client_id, updated.region) == ("client-2", "eu")
    assert updated.client_secret.reveal() == NEW_TR_SECRET
    assert output.strip() == "updated Threat Response account XDR"


@pytest.mark.parametrize(
    ("region", "token_url", "intel_url"),
    [
        ("us", "https://visibility.amp.cisco.com/iroh/oauth2/token", "https://private.intel.amp.cisco.com"),
        ("eu", "https://visibility.eu.amp.cisco.com/iroh/oauth2/token", "https://private.intel.eu.amp.cisco.com"),
        (
            "apjc",
            "https://visibility.apjc.amp.cisco.com/iroh/oauth2/token",
            "https://private.intel.apjc.amp.cisco.com",
        ),
    ],
)
def test_add_threat_response_account_takes_the_default_urls_from_the_region(
    db, tr_secret_env, region, token_url, intel_url
):
    add_account("--name", "XDR", "--client-id", "c", "--client-secret-env", tr_secret_env, "--region", region)

    account = ThreatResponseAccount.objects.get()
    assert (account.token_url, account.intel_url) == ("", "")
    assert (account.effective_token_url, account.effective_intel_url) == (token_url, intel_url)


def test_add_threat_response_account_keeps_urls_given_on_an_allowed_host(db, tr_secret_env):
    add_account(
        "--name", "XDR", "--client-id", "c", "--client-secret-env", tr_secret_env,
        "--token-url", "https://visibility.eu.amp.cisco.com/iroh/oauth2/token",
        "--intel-url", "https://private.intel.eu.amp.cisco.com/",
    )  # fmt: skip

    account = ThreatResponseAccount.objects.get()
    assert account.effective_token_url == "https://visibility.eu.amp.cisco.com/iroh/oauth2/token"
    assert account.effective_intel_url == "https://private.intel.eu.amp.cisco.com"


def test_add_threat_response_account_refuses_an_unknown_region(db, tr_secret_env):
    with pytest.raises(CommandError, match="--region: invalid choice"):
        add_account("--name", "XDR", "--client-id", "c", "--client-secret-env", tr_secret_env, "--region", "mars")

    assert not ThreatResponseAccount.objects.exists()


@pytest.mark.parametrize("option", ["--token-url", "--intel-url"])
def test_add_threat_response_account_refuses_a_url_on_a_foreign_host(db, tr_secret_env, option):
    with pytest.raises(CommandError, match=re.escape("refused host evil.example.com")) as caught:
        add_account(
            "--name", "XDR", "--client-id", "c", "--client-secret-env", tr_secret_env,
            option, "https://evil.example.com/iroh/oauth2/token",
        )  # fmt: skip

    assert TR_SECRET not in str(caught.value)
    assert not ThreatResponseAccount.objects.exists()


def test_add_threat_response_account_without_the_variable_names_it(db, monkeypatch):
    monkeypatch.delenv("NO_SUCH_TR_SECRET", raising=False)

    with pytest.raises(CommandError, match="environment variable NO_SUCH_TR_SECRET is not set or empty"):
        add_account("--name", "XDR", "--client-id", "c", "--client-secret-env", "NO_SUCH_TR_SECRET")

    assert not ThreatResponseAccount.objects.exists()


def test_add_threat_response_account_never_prints_the_secret(db, tr_secret_env, monkeypatch):
    created = add_account("--name", "XDR", "--client-id", "c", "--client-secret-env", tr_secret_env)
    monkeypatch.setenv(tr_secret_env, NEW_TR_SECRET)
    updated = add_account("--name", "XDR", "--client-id", "c", "--client-secret-env", tr_secret_env)

    assert TR_SECRET not in created
    assert NEW_TR_SECRET not in updated
    assert NEW_TR_SECRET[-4:] not in updated


# --- add_webex_room --------------------------------------------------------------------------------------------


@pytest.fixture
def bot_token_env(monkeypatch) -> str:
    monkeypatch.setenv("TEST_BOT_TOKEN", BOT_TOKEN)
    return "TEST_BOT_TOKEN"


def add_room(*args: str) -> str:
    return run_command("add_webex_room", *args)


def test_add_webex_room_creates_it_with_the_token_from_the_named_variable(db, bot_token_env):
    output = add_room("--name", "SOC", "--room-title", "SOC alerts", "--token-env", bot_token_env)

    room = WebexRoom.objects.get()
    assert (room.name, room.room_title, room.room_id) == ("SOC", "SOC alerts", "")
    assert room.base_url == "https://webexapis.com/v1"
    assert room.bot_token.reveal() == BOT_TOKEN
    assert output.strip() == "created Webex room SOC"


def test_add_webex_room_stores_the_token_encrypted(db, bot_token_env):
    add_room("--name", "SOC", "--room-title", "SOC alerts", "--token-env", bot_token_env)

    raw = stored_column("sync_webexroom", "bot_token", WebexRoom.objects.get().pk)
    assert raw and raw != BOT_TOKEN
    assert BOT_TOKEN not in raw


def test_add_webex_room_again_with_the_same_name_updates_it_and_forgets_the_cached_room_id(
    db, bot_token_env, monkeypatch
):
    add_room("--name", "SOC", "--room-title", "SOC alerts", "--token-env", bot_token_env)
    first = WebexRoom.objects.get()
    WebexRoom.objects.filter(pk=first.pk).update(room_id="Y2lzY29zcGFyazovL3VzL1JPT00vb2xk")  # found earlier
    monkeypatch.setenv(bot_token_env, NEW_BOT_TOKEN)

    output = add_room("--name", "SOC", "--room-title", "SOC alerts (new)", "--token-env", bot_token_env)

    updated = WebexRoom.objects.get()
    assert updated.pk == first.pk
    assert (updated.room_title, updated.room_id) == ("SOC alerts (new)", "")
    assert updated.bot_token.reveal() == NEW_BOT_TOKEN
    assert output.strip() == "updated Webex room SOC"


def test_add_webex_room_refuses_a_base_url_on_a_foreign_host(db, bot_token_env):
    with pytest.raises(CommandError, match=re.escape("refused host evil.example.com")) as caught:
        add_room(
            "--name", "SOC", "--room-title", "SOC", "--token-env", bot_token_env,
            "--base-url", "https://evil.example.com/v1",
        )  # fmt: skip

    assert BOT_TOKEN not in str(caught.value)
    assert not WebexRoom.objects.exists()


def test_add_webex_room_without_the_variable_names_it(db, monkeypatch):
    monkeypatch.setenv("EMPTY_BOT_TOKEN", "  ")

    with pytest.raises(CommandError, match="environment variable EMPTY_BOT_TOKEN is not set or empty"):
        add_room("--name", "SOC", "--room-title", "SOC", "--token-env", "EMPTY_BOT_TOKEN")

    assert not WebexRoom.objects.exists()


def test_add_webex_room_never_prints_the_token(db, bot_token_env, monkeypatch):
    created = add_room("--name", "SOC", "--room-title", "SOC", "--token-env", bot_token_env)
    monkeypatch.setenv(bot_token_env, NEW_BOT_TOKEN)
    updated = add_room("--name", "SOC", "--room-title", "SOC", "--token-env", bot_token_env)

    assert BOT_TOKEN not in created
    assert NEW_BOT_TOKEN not in updated
    assert NEW_BOT_TOKEN[-4:] not in updated


# --- add_organization's links ----------------------------------------------------------------------------------


@pytest.fixture
def api_key_env(monkeypatch) -> str:
    monkeypatch.setenv("TEST_MERAKI_KEY", TEST_API_KEY)
    return "TEST_MERAKI_KEY"


@pytest.fixture
def account_and_room(db, tr_secret_env, bot_token_env) -> tuple[ThreatResponseAccount, WebexRoom]:
    add_account("--name", "XDR", "--client-id", "c", "--client-secret-env", tr_secret_env)
    add_room("--name", "SOC", "--room-title", "SOC", "--token-env", bot_token_env)
    return ThreatResponseAccount.objects.get(), WebexRoom.objects.get()


def add_organization(*args: str) -> str:
    return run_command("add_organization", "--name", "Branch", "--org-id", "549236", *args)


def test_add_organization_links_the_named_account_and_room(account_and_room, api_key_env):
    account, room = account_and_room

    add_organization("--api-key-env", api_key_env, "--threat-response", "XDR", "--webex-room", "SOC")

    organization = Organization.objects.get()
    assert (organization.threat_response_account, organization.webex_room) == (account, room)


def test_add_organization_again_links_an_existing_organization(account_and_room, api_key_env):
    add_organization("--api-key-env", api_key_env)
    assert Organization.objects.get().threat_response_account is None

    add_organization("--api-key-env", api_key_env, "--threat-response", "XDR")

    assert Organization.objects.get().threat_response_account == account_and_room[0]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--threat-response", "no threat response account named 'Nope'"),
        ("--webex-room", "no webex room named 'Nope'"),
    ],
)
def test_add_organization_with_an_unknown_link_name_refuses_and_creates_nothing(
    account_and_room, api_key_env, option, message
):
    with pytest.raises(CommandError, match=message):
        add_organization("--api-key-env", api_key_env, option, "Nope")

    assert not Organization.objects.exists()


# --- sync_events with promotion --------------------------------------------------------------------------------


@pytest.fixture
def mock_http(settings, live_server):
    """Meraki is faked; every other request (the simulator on the live server) goes through."""
    settings.MERAKI_RATE_LIMIT_PER_SECOND = 1000
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(live_server.url)
        yield mock


def recent_events(n: int) -> list[dict]:
    """n promotable IDS alerts (priority 1) in the last half hour: inside the default one-hour first window."""
    return ids_events(timezone.now() - timedelta(minutes=30), n, step=timedelta(minutes=1))


def line_for(output: str, organization: Organization) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith(f"{organization.name} (")]
    return line


def ctia_counts() -> dict[str, int]:
    return {
        kind: CtiaEntity.objects.filter(entity_type=kind).count() for kind in ("sighting", "incident", "relationship")
    }


@live
def test_sync_events_promotes_and_notifies_inline_printing_the_summary(organization, mock_http):
    FakeMeraki(mock_http, org_id=organization.meraki_org_id, events=recent_events(3))

    output = run_command("sync_events")

    (line,) = output.splitlines()
    assert line == line_for(output, organization)
    assert ": succeeded window=" in line and "fetched=3 new=3" in line
    assert line.endswith("; promotion succeeded=3 retry=0 failed=0; notification succeeded=3 retry=0 failed=0")
    assert ctia_counts() == {"sighting": 3, "incident": 3, "relationship": 3}
    assert SimulatedWebexMessage.objects.count() == 3
    assert (
        SecurityEvent.objects.filter(
            promotion_status=PromotionStatus.PROMOTED, notification_status=NotificationStatus.SENT
        ).count()
        == 3
    )
    assert set(PromotionAttempt.objects.values_list("trigger", flat=True)) == {PromotionAttempt.Trigger.COMMAND}


@live
def test_sync_events_without_promotion_targets_prints_the_sync_summary_only(organization, mock_http):
    Organization.objects.filter(pk=organization.pk).update(threat_response_account=None, webex_room=None)
    FakeMeraki(mock_http, org_id=organization.meraki_org_id, events=recent_events(2))

    output = run_command("sync_events")

    assert "promotion" not in line_for(output, organization)
    assert ctia_counts()["incident"] == 0
    assert SecurityEvent.objects.filter(promotion_status=PromotionStatus.PENDING).count() == 2


@live
def test_sync_events_no_promote_leaves_eligible_events_pending(organization, mock_http):
    FakeMeraki(mock_http, org_id=organization.meraki_org_id, events=recent_events(3))

    output = run_command("sync_events", "--no-promote")

    line = line_for(output, organization)
    assert "new=3" in line
    assert "promotion" not in line
    assert (
        SecurityEvent.objects.filter(
            promotion_status=PromotionStatus.PENDING, notification_status=NotificationStatus.PENDING
        ).count()
        == 3
    )
    assert CtiaEntity.objects.count() == 0
    assert SimulatedWebexMessage.objects.count() == 0
    assert not PromotionAttempt.objects.exists()


@live
def test_sync_events_with_a_failed_promotion_exits_non_zero_after_printing_it(organization, mock_http):
    FakeMeraki(mock_http, org_id=organization.meraki_org_id, events=recent_events(2))
    SimulatedFault.objects.create(api="threatresponse", kind="bad_request", skip=1)  # the token passes
    out = StringIO()

    with pytest.raises(CommandError, match=re.escape("1 organization(s) had a failed sync, promotion or notification")):
        call_command("sync_events", stdout=out)

    line = line_for(out.getvalue(), organization)
    assert ": succeeded window=" in line  # the sync itself worked
    assert "; promotion succeeded=0 retry=0 failed=2 error=" in line
    assert "HTTP 400" in line
    assert SecurityEvent.objects.filter(promotion_status=PromotionStatus.FAILED).count() == 2


# --- repush ----------------------------------------------------------------------------------------------------


def failed_promotions(organization) -> list[SecurityEvent]:
    """The official examples' two eligible events, failed by a rejected bundle import (the fault is gone after)."""
    ingest(organization, OFFICIAL_EVENTS)
    SimulatedFault.objects.create(api="threatresponse", kind="bad_request", skip=1)  # the token passes
    run = promote_and_notify(organization_id=organization.pk)
    SimulatedFault.objects.all().delete()
    assert run.promotion.failed == 2
    return list(SecurityEvent.objects.filter(promotion_status=PromotionStatus.FAILED).order_by("pk"))


@live
def test_repush_failed_promotes_and_notifies_the_failed_events(organization):
    failed = failed_promotions(organization)

    output = run_command("repush", "--failed")

    assert output.splitlines() == [
        f"{organization.name}: promotion succeeded=2 retry=0 failed=0; notification succeeded=2 retry=0 failed=0"
    ]
    assert ctia_counts() == {"sighting": 2, "incident": 2, "relationship": 2}
    assert SimulatedWebexMessage.objects.count() == 2
    for event in failed:
        event.refresh_from_db()
        assert (event.promotion_status, event.notification_status) == ("promoted", "sent")
    retried = PromotionAttempt.objects.filter(kind="promotion", outcome="succeeded")
    assert set(retried.values_list("trigger", flat=True)) == {PromotionAttempt.Trigger.COMMAND}


@live
def test_repush_without_options_re_pushes_the_failed_events_too(organization):
    failed_promotions(organization)

    output = run_command("repush")

    assert "promotion succeeded=2" in output
    assert not SecurityEvent.objects.filter(promotion_status=PromotionStatus.FAILED).exists()


@live
def test_repush_event_re_pushes_only_the_named_event(organization):
    chosen, other = failed_promotions(organization)

    output = run_command("repush", "--event", str(chosen.pk))

    assert output.splitlines() == [
        f"{organization.name}: promotion succeeded=1 retry=0 failed=0; notification succeeded=1 retry=0 failed=0"
    ]
    chosen.refresh_from_db()
    other.refresh_from_db()
    assert chosen.promotion_status == PromotionStatus.PROMOTED
    assert other.promotion_status == PromotionStatus.FAILED
    assert ctia_counts() == {"sighting": 1, "incident": 1, "relationship": 1}


@live
def test_repush_event_of_a_promoted_and_sent_event_sends_nothing_again(organization):
    ingest(organization, OFFICIAL_EVENTS)
    promote_and_notify(organization_id=organization.pk)
    done = SecurityEvent.objects.filter(promotion_status=PromotionStatus.PROMOTED).first()
    before = ctia_counts(), SimulatedWebexMessage.objects.count(), PromotionAttempt.objects.count()

    output = run_command("repush", "--event", str(done.pk))

    assert output.splitlines() == [
        f"{organization.name}: promotion succeeded=0 retry=0 failed=0; notification succeeded=0 retry=0 failed=0"
    ]
    assert (ctia_counts(), SimulatedWebexMessage.objects.count(), PromotionAttempt.objects.count()) == before


@live
def test_repush_notification_only_resends_the_alerts_and_touches_no_incident(organization):
    ingest(organization, OFFICIAL_EVENTS)
    SimulatedFault.objects.create(api="webex", kind="bad_request", remaining=5)
    first = promote_and_notify(organization_id=organization.pk)
    SimulatedFault.objects.all().delete()
    assert (first.promotion.succeeded, first.notification.failed) == (2, 2)
    before = ctia_counts()
    imports_before = PromotionAttempt.objects.filter(kind="promotion").count()

    output = run_command("repush", "--notification-only")

    assert output.splitlines() == [
        f"{organization.name}: promotion succeeded=0 retry=0 failed=0; notification succeeded=2 retry=0 failed=0"
    ]
    assert SimulatedWebexMessage.objects.count() == 2
    assert ctia_counts() == before
    assert PromotionAttempt.objects.filter(kind="promotion").count() == imports_before


@live
def test_repush_notification_only_leaves_failed_promotions_alone(organization):
    failed_promotions(organization)

    output = run_command("repush", "--notification-only")

    assert output.strip() == "nothing to re-push"
    assert SecurityEvent.objects.filter(promotion_status=PromotionStatus.FAILED).count() == 2
    assert CtiaEntity.objects.count() == 0


@live
def test_repush_with_nothing_failed_says_so(organization):
    ingest(organization, OFFICIAL_EVENTS)
    promote_and_notify(organization_id=organization.pk)

    output = run_command("repush")

    assert output.strip() == "nothing to re-push"


@live
def test_repush_event_that_is_not_eligible_says_nothing_to_re_push(organization):
    events = ingest(organization, OFFICIAL_EVENTS)
    not_eligible = next(event for event in events if event.promotion_status == PromotionStatus.NOT_ELIGIBLE)

    output = run_command("repush", "--event", str(not_eligible.pk))

    assert output.strip() == "nothing to re-push"
    assert CtiaEntity.objects.count() == 0


@live
def test_repush_exits_non_zero_when_events_still_fail(organization):
    failed_promotions(organization)
    SimulatedFault.objects.create(api="threatresponse", kind="bad_request", skip=1)  # still refused
    out = StringIO()

    with pytest.raises(CommandError, match=re.escape("2 event(s) still failed")):
        call_command("repush", "--failed", stdout=out)

    assert out.getvalue().startswith(f"{organization.name}: promotion succeeded=0 retry=0 failed=2 error=")
    assert SecurityEvent.objects.filter(promotion_status=PromotionStatus.FAILED).count() == 2
    assert CtiaEntity.objects.count() == 0


@live
def test_repush_with_an_unknown_org_refuses_and_re_pushes_nothing(organization):
    failed_promotions(organization)

    with pytest.raises(CommandError, match="unknown Meraki organization id\\(s\\): 999999999"):
        run_command("repush", "--org", organization.meraki_org_id, "--org", "999999999")

    assert SecurityEvent.objects.filter(promotion_status=PromotionStatus.FAILED).count() == 2
    assert CtiaEntity.objects.count() == 0


@live
def test_repush_with_org_re_pushes_that_organizations_events(organization):
    failed_promotions(organization)

    output = run_command("repush", "--org", organization.meraki_org_id)

    assert output.startswith(f"{organization.name}: promotion succeeded=2")
