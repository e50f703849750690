"""`manage.py rotate_encryption_key`: every stored secret moves to the newest key, so the old one can go."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from sync.management.commands.rotate_encryption_key import encrypted_fields
from sync.models import Organization, ThreatResponseAccount, WebexRoom
from tests.factories import make_organization

KEY_A, KEY_B, KEY_LOST = (Fernet.generate_key().decode() for _ in range(3))
API_KEY = "meraki-key-0123456789abcdef0123456789abcdef"
CLIENT_SECRET = "tr-client-secret-abcdefghijklmnopqrstuvwxyz"
BOT_TOKEN = "webex-bot-token-ZYXWVUTSRQPONMLKJIHGFEDCBA"
PLAINTEXTS = (API_KEY, CLIENT_SECRET, BOT_TOKEN)


@pytest.fixture
def secrets_under_key_a(db, settings) -> dict:
    """One secret of each kind, encrypted under key A (and one organization without a key)."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    account = ThreatResponseAccount.objects.create(name="XDR", client_id="client-1", client_secret=CLIENT_SECRET)
    room = WebexRoom.objects.create(name="SOC", room_title="SOC alerts", bot_token=BOT_TOKEN)
    organization = make_organization(api_key=API_KEY, threat_response_account=account, webex_room=room)
    make_organization(api_key=None)
    return {"organization": organization.pk, "account": account.pk, "room": room.pk}


def run_rotation() -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command("rotate_encryption_key", stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def stored_secrets(ids: dict) -> tuple[str, str, str]:
    return (
        Organization.objects.get(pk=ids["organization"]).api_key.reveal(),
        ThreatResponseAccount.objects.get(pk=ids["account"]).client_secret.reveal(),
        WebexRoom.objects.get(pk=ids["room"]).bot_token.reveal(),
    )


def test_every_encrypted_field_is_found_without_naming_the_models():
    names = {f"{model._meta.label}.{field.name}" for model, field in encrypted_fields()}

    assert names == {
        "sync.Organization.api_key",
        "sync.ThreatResponseAccount.client_secret",
        "sync.WebexRoom.bot_token",
    }


def test_after_rotation_the_new_key_alone_decrypts_every_secret(secrets_under_key_a, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]

    run_rotation()

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert stored_secrets(secrets_under_key_a) == PLAINTEXTS


def test_without_rotation_the_new_key_alone_cannot_decrypt_them(secrets_under_key_a, settings):
    """The test above proves something: secrets under key A really need key A."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]

    assert Organization.objects.get(pk=secrets_under_key_a["organization"]).api_key.last4 == ""


def test_rotation_prints_counts_per_model_and_field(secrets_under_key_a, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]

    stdout, stderr = run_rotation()

    assert stdout.splitlines() == [
        "sync.ThreatResponseAccount.client_secret: 1 re-encrypted, 0 failed",
        "sync.WebexRoom.bot_token: 1 re-encrypted, 0 failed",
        "sync.Organization.api_key: 1 re-encrypted, 0 failed",
    ]
    assert stderr == ""


def test_rotation_is_safe_to_repeat(secrets_under_key_a, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    run_rotation()

    run_rotation()

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert stored_secrets(secrets_under_key_a) == PLAINTEXTS


@pytest.fixture
def lost_secret(secrets_under_key_a, settings) -> int:
    """A Webex room whose token was encrypted under a key no longer listed."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_LOST]
    room = WebexRoom.objects.create(name="Old", room_title="Old room", bot_token="old-bot-token-LOSTLOSTLOST")
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    return room.pk


def test_an_undecryptable_secret_is_reported_and_the_command_fails(lost_secret):
    stdout, stderr = StringIO(), StringIO()

    with pytest.raises(CommandError, match="1 secret"):
        call_command("rotate_encryption_key", stdout=stdout, stderr=stderr)

    assert f"sync.WebexRoom.bot_token id={lost_secret}: does not decrypt with any FIELD_ENCRYPTION_KEY" in (
        stderr.getvalue()
    )
    assert "sync.WebexRoom.bot_token: 1 re-encrypted, 1 failed" in stdout.getvalue()


def test_an_undecryptable_secret_does_not_stop_the_others_from_rotating(lost_secret, secrets_under_key_a, settings):
    with pytest.raises(CommandError):
        run_rotation()

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert stored_secrets(secrets_under_key_a) == PLAINTEXTS


def test_the_output_never_contains_a_secret(lost_secret, settings):
    stdout, stderr = StringIO(), StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("rotate_encryption_key", stdout=stdout, stderr=stderr)

    output = stdout.getvalue() + stderr.getvalue() + str(failure.value)
    for secret in (*PLAINTEXTS, "old-bot-token-LOSTLOSTLOST", KEY_A, KEY_B, KEY_LOST):
        assert secret not in output


def test_a_secret_saved_while_rotating_is_left_as_saved(secrets_under_key_a, settings, monkeypatch):
    """The update only applies to the value that was read: a key typed into admin meanwhile is not overwritten."""
    from sync.management.commands import rotate_encryption_key as command

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    real_rotate = command.rotate

    def rotate_while_an_admin_saves(ciphertext):
        Organization.objects.filter(pk=secrets_under_key_a["organization"]).update(api_key="typed-meanwhile-1234")
        return real_rotate(ciphertext)

    monkeypatch.setattr(command, "rotate", rotate_while_an_admin_saves)
    stdout = StringIO()
    call_command("rotate_encryption_key", stdout=stdout, stderr=StringIO())

    assert "sync.Organization.api_key: 0 re-encrypted, 1 saved anew during the run (left as saved)" in (
        stdout.getvalue()
    )
    assert Organization.objects.get(pk=secrets_under_key_a["organization"]).api_key.reveal() == "typed-meanwhile-1234"
