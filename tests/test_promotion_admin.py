"""The admin pages for promotion: write-only secrets, "Test credentials", "Send test message" and "Re-push".

The actions use the product's real clients against the built-in simulator over real HTTP (pytest-django's
live_server); the admin itself is driven through Django's test client as a superuser, or as a staff user with
only the permissions a test grants.
"""

import re

import pytest
from django.contrib import messages
from django.contrib.auth.models import Permission
from django.db import connection

from sync.models import PromotionAttempt, PromotionStatus, SecurityEvent, ThreatResponseAccount, WebexRoom
from sync.services.pipeline import promote_and_notify
from sync.simulator.models import CtiaEntity, SimulatedFault, SimulatedWebexMessage, SimulatedWebexRoom
from sync.simulator.setup import create_webex_room
from tests import test_promotion
from tests.simulated import CLIENT_SECRET, ROOM_TITLE
from tests.test_promotion import OFFICIAL_EVENTS, ingest

# An organization promoting to the simulator, from tests/test_promotion.py (pytest finds fixtures by name).
organization = test_promotion.organization

ACCOUNTS = "/admin/sync/threatresponseaccount/"
ROOMS = "/admin/sync/webexroom/"
EVENTS = "/admin/sync/securityevent/"
TR_SECRET = "tr-client-secret-0123456789-wxyz"
NEW_TR_SECRET = "tr-client-secret-9876543210-abcd"
BOT_TOKEN = "webex-bot-token-0123456789-qrst"
live = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """admin_client's superuser is created per test; the default hasher would spend a quarter second on each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def stored_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 -- names are constants
        return cursor.fetchone()[0]


def shown_messages(response) -> list[tuple[int, str]]:
    return [(message.level, str(message)) for message in response.context["messages"]]


def run_action(client, changelist: str, action: str, *objects):
    return client.post(
        changelist, {"action": action, "index": "0", "_selected_action": [o.pk for o in objects]}, follow=True
    )


# --- Threat Response account: the write-only client secret ------------------------------------------------------


@pytest.fixture
def account(db) -> ThreatResponseAccount:
    created = ThreatResponseAccount.objects.create(name="XDR", client_id="client-1", client_secret=TR_SECRET)
    created.refresh_from_db()  # the secret comes back as a Secret, as in production
    return created


def account_url(account: ThreatResponseAccount) -> str:
    return f"{ACCOUNTS}{account.pk}/change/"


def account_form(account: ThreatResponseAccount, **changes) -> dict:
    data = {
        "name": account.name,
        "region": account.region,
        "client_id": account.client_id,
        "client_secret": "",
        "token_url": account.token_url,
        "intel_url": account.intel_url,
        "_save": "Save",
    }
    data.update(changes)
    return data


def test_account_change_page_shows_the_last_four_characters_only(admin_client, account):
    response = admin_client.get(account_url(account))

    page = response.content.decode()
    assert response.status_code == 200
    assert f"set, ending in …{TR_SECRET[-4:]}" in page
    assert TR_SECRET not in page
    assert stored_column("sync_threatresponseaccount", "client_secret", account.pk) not in page


def test_account_secret_input_is_an_empty_password_input(admin_client, account):
    page = admin_client.get(account_url(account)).content.decode()

    (secret_input,) = re.findall(r'<input[^>]*name="client_secret"[^>]*>', page)
    assert 'type="password"' in secret_input
    assert "value=" not in secret_input


def test_account_changelist_shows_the_secret_status_but_not_the_secret(admin_client, account):
    page = admin_client.get(ACCOUNTS).content.decode()

    assert f"set, ending in …{TR_SECRET[-4:]}" in page
    assert TR_SECRET not in page


def test_saving_an_account_with_a_blank_secret_keeps_the_stored_one(admin_client, account):
    before = stored_column("sync_threatresponseaccount", "client_secret", account.pk)

    response = admin_client.post(account_url(account), account_form(account, client_id="client-2", region="eu"))

    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.client_id, account.region) == ("client-2", "eu")
    assert account.client_secret.reveal() == TR_SECRET
    assert stored_column("sync_threatresponseaccount", "client_secret", account.pk) == before


def test_saving_an_account_with_a_new_secret_replaces_and_encrypts_it(admin_client, account):
    response = admin_client.post(account_url(account), account_form(account, client_secret=NEW_TR_SECRET))

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.client_secret.reveal() == NEW_TR_SECRET
    assert NEW_TR_SECRET not in stored_column("sync_threatresponseaccount", "client_secret", account.pk)


def test_an_account_form_refused_for_a_foreign_url_does_not_echo_the_new_secret(admin_client, account):
    data = account_form(account, client_secret=NEW_TR_SECRET, token_url="https://evil.example.com/iroh/oauth2/token")

    response = admin_client.post(account_url(account), data)

    page = response.content.decode()
    assert response.status_code == 200  # the form again, with the error
    assert "refused host evil.example.com" in page
    assert NEW_TR_SECRET not in page
    account.refresh_from_db()
    assert account.client_secret.reveal() == TR_SECRET


# --- "Test credentials" ----------------------------------------------------------------------------------------


@live
def test_test_credentials_reports_an_issued_token(admin_client, organization):
    account = organization.threat_response_account

    response = run_action(admin_client, ACCOUNTS, "test_credentials", account)

    assert response.status_code == 200
    assert shown_messages(response) == [(messages.SUCCESS, f"{account.name}: credentials accepted, token issued")]


@live
def test_test_credentials_reports_a_wrong_secret_without_a_traceback_or_the_secret(admin_client, organization):
    account = organization.threat_response_account
    account.client_secret = NEW_TR_SECRET  # not the one the simulator knows
    account.save()

    response = run_action(admin_client, ACCOUNTS, "test_credentials", account)

    page = response.content.decode()
    assert response.status_code == 200
    ((level, text),) = shown_messages(response)
    assert level == messages.ERROR
    assert text.startswith(f"{account.name}: Threat Response rejected the client id/secret (HTTP 401)")
    assert "Traceback" not in page
    assert NEW_TR_SECRET not in page
    assert CLIENT_SECRET not in page


@live
def test_test_credentials_reports_an_account_without_a_secret(admin_client, organization):
    account = organization.threat_response_account
    ThreatResponseAccount.objects.filter(pk=account.pk).update(client_secret=None)

    response = run_action(admin_client, ACCOUNTS, "test_credentials", account)

    ((level, text),) = shown_messages(response)
    assert level == messages.ERROR
    assert "no client secret" in text


# --- Webex room: the write-only bot token and "Send test message" -----------------------------------------------


def test_room_change_page_shows_the_last_four_characters_of_the_token_only(admin_client, db):
    room = WebexRoom.objects.create(name="SOC", room_title="SOC", bot_token=BOT_TOKEN)

    page = admin_client.get(f"{ROOMS}{room.pk}/change/").content.decode()

    assert f"set, ending in …{BOT_TOKEN[-4:]}" in page
    assert BOT_TOKEN not in page
    assert stored_column("sync_webexroom", "bot_token", room.pk) not in page


@live
def test_send_test_message_posts_to_the_room_and_caches_its_id(admin_client, organization):
    room = organization.webex_room

    response = run_action(admin_client, ROOMS, "send_test_message", room)

    assert shown_messages(response) == [(messages.SUCCESS, f"{room.name}: test message sent to '{ROOM_TITLE}'")]
    (message,) = SimulatedWebexMessage.objects.all()
    assert "test message" in message.markdown
    assert message.room.title == ROOM_TITLE
    room.refresh_from_db()
    assert room.room_id == message.room.room_id == SimulatedWebexRoom.objects.get(title=ROOM_TITLE).room_id


@live
def test_send_test_message_to_a_room_the_bot_is_not_in_says_to_invite_it(admin_client, organization):
    room = organization.webex_room
    WebexRoom.objects.filter(pk=room.pk).update(room_title="No such room")

    response = run_action(admin_client, ROOMS, "send_test_message", room)

    page = response.content.decode()
    ((level, text),) = shown_messages(response)
    assert level == messages.ERROR
    assert "Webex room 'No such room' not found: invite the bot" in text
    assert "Traceback" not in page
    assert not SimulatedWebexMessage.objects.exists()
    room.refresh_from_db()
    assert room.room_id == ""


@live
def test_changing_the_room_title_in_the_admin_sends_to_the_new_room(admin_client, organization):
    room = organization.webex_room
    run_action(admin_client, ROOMS, "send_test_message", room)  # caches the id of the room titled ROOM_TITLE
    bot = SimulatedWebexRoom.objects.get(title=ROOM_TITLE).members.get()
    create_webex_room(bot=bot, title="SOC night shift")
    form = {"name": room.name, "room_title": "SOC night shift", "bot_token": "", "base_url": room.base_url}

    assert admin_client.post(f"{ROOMS}{room.pk}/change/", {**form, "_save": "Save"}).status_code == 302
    run_action(admin_client, ROOMS, "send_test_message", room)

    latest = SimulatedWebexMessage.objects.order_by("-id").first()
    assert latest.room.title == "SOC night shift"


# --- SecurityEvent "Re-push to Threat Response and Webex" ------------------------------------------------------


def failed_promotions(organization) -> list[SecurityEvent]:
    """The official examples' two eligible events, failed by a rejected bundle import (the fault is gone after)."""
    ingest(organization, OFFICIAL_EVENTS)
    SimulatedFault.objects.create(api="threatresponse", kind="bad_request", skip=1)  # the token passes
    run = promote_and_notify(organization_id=organization.pk)
    SimulatedFault.objects.all().delete()
    assert run.promotion.failed == 2
    return list(SecurityEvent.objects.filter(promotion_status=PromotionStatus.FAILED).order_by("pk"))


def action_names(response) -> list[str]:
    form = response.context["action_form"]  # None when the user may run no action at all
    return [] if form is None else [name for name, _ in form.fields["action"].choices if name]


@pytest.fixture
def staff_client(client, django_user_model):
    """A staff user who may view events (nothing more until a test grants it), logged in."""
    user = django_user_model.objects.create_user(username="analyst", password="analyst-pass", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_securityevent", content_type__app_label="sync"))
    client.force_login(user)
    client.user = user
    return client


def grant_repush(user) -> None:
    user.user_permissions.add(Permission.objects.get(codename="repush_securityevent", content_type__app_label="sync"))


@live
def test_repush_action_promotes_and_notifies_the_selected_failed_events(admin_client, organization):
    failed = failed_promotions(organization)

    response = run_action(admin_client, EVENTS, "repush", *failed)

    assert response.status_code == 200
    assert shown_messages(response) == [
        (messages.SUCCESS, "Re-push: promotion succeeded=2 retry=0 failed=0; notification succeeded=2 retry=0 failed=0")
    ]
    assert CtiaEntity.objects.filter(entity_type="incident").count() == 2
    assert SimulatedWebexMessage.objects.count() == 2
    statuses = SecurityEvent.objects.filter(pk__in=[e.pk for e in failed]).values_list("promotion_status", flat=True)
    assert set(statuses) == {PromotionStatus.PROMOTED}
    repushed = PromotionAttempt.objects.filter(kind="promotion", outcome="succeeded")
    assert {(a.trigger, a.started_by.username) for a in repushed} == {(PromotionAttempt.Trigger.ANALYST, "admin")}


@live
def test_repush_action_re_pushes_only_the_selected_events(admin_client, organization):
    chosen, other = failed_promotions(organization)

    response = run_action(admin_client, EVENTS, "repush", chosen)

    assert shown_messages(response)[0][1].startswith("Re-push: promotion succeeded=1 retry=0 failed=0")
    other.refresh_from_db()
    assert other.promotion_status == PromotionStatus.FAILED


@live
def test_repush_action_reports_events_that_still_fail_as_an_error(admin_client, organization):
    failed = failed_promotions(organization)
    SimulatedFault.objects.create(api="threatresponse", kind="bad_request", skip=1)

    response = run_action(admin_client, EVENTS, "repush", *failed)

    page = response.content.decode()
    ((level, text),) = shown_messages(response)
    assert level == messages.ERROR
    assert text.startswith("Re-push: promotion succeeded=0 retry=0 failed=2 error=")
    assert "HTTP 400" in text
    assert "Traceback" not in page
    assert CLIENT_SECRET not in page


@live
def test_repush_action_on_events_that_are_not_eligible_warns(admin_client, organization):
    events = ingest(organization, OFFICIAL_EVENTS)
    not_eligible = [event for event in events if event.promotion_status == PromotionStatus.NOT_ELIGIBLE]

    response = run_action(admin_client, EVENTS, "repush", *not_eligible)

    assert shown_messages(response) == [(messages.WARNING, "Nothing to re-push: the selected events are not eligible.")]
    assert CtiaEntity.objects.count() == 0


@live
def test_repush_action_is_offered_to_a_superuser(admin_client, organization):
    assert "repush" in action_names(admin_client.get(EVENTS))


@live
def test_staff_without_the_repush_permission_is_not_offered_the_action(staff_client, organization):
    failed_promotions(organization)

    response = staff_client.get(EVENTS)

    assert response.status_code == 200
    assert "repush" not in action_names(response)
    assert 'value="repush"' not in response.content.decode()


@live
def test_staff_without_the_repush_permission_posting_the_action_changes_nothing(staff_client, organization):
    failed = failed_promotions(organization)
    attempts = PromotionAttempt.objects.count()

    response = run_action(staff_client, EVENTS, "repush", *failed)

    assert response.status_code == 200  # the changelist again: Django ignores an action the user may not run
    assert shown_messages(response) == []
    assert SecurityEvent.objects.filter(promotion_status=PromotionStatus.FAILED).count() == 2
    assert PromotionAttempt.objects.count() == attempts
    assert CtiaEntity.objects.count() == 0
    assert SimulatedWebexMessage.objects.count() == 0


@live
def test_staff_with_the_repush_permission_can_re_push(staff_client, organization):
    failed = failed_promotions(organization)
    grant_repush(staff_client.user)

    assert "repush" in action_names(staff_client.get(EVENTS))
    response = run_action(staff_client, EVENTS, "repush", *failed)

    assert shown_messages(response) == [
        (messages.SUCCESS, "Re-push: promotion succeeded=2 retry=0 failed=0; notification succeeded=2 retry=0 failed=0")
    ]
    assert not SecurityEvent.objects.filter(promotion_status=PromotionStatus.FAILED).exists()
    repushed = PromotionAttempt.objects.filter(kind="promotion", outcome="succeeded")
    assert {a.started_by_id for a in repushed} == {staff_client.user.pk}
