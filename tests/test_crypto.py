"""Secrets at rest: the API key column holds a Fernet token, keys rotate, and a lost key fails clearly."""

import pytest
import responses
from cryptography.fernet import Fernet
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from sync.crypto import Secret, SecretDecryptionError, decrypt, encrypt, rotate
from sync.models import Organization, SyncRun
from sync.services.ingest import sync_organization
from tests.factories import TEST_API_KEY, make_organization


def new_key() -> str:
    return Fernet.generate_key().decode()


def stored_api_key(organization: Organization) -> str:
    """The api_key column exactly as the database holds it, bypassing the model field."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM sync_organization WHERE id = %s", [organization.pk])
        (value,) = cursor.fetchone()
    return value


@pytest.fixture
def key_a(settings) -> str:
    key = new_key()
    settings.FIELD_ENCRYPTION_KEYS = [key]
    return key


@pytest.fixture
def lost_key_organization(settings, db) -> Organization:
    """An organization whose stored key was encrypted under a key the deployment no longer lists."""
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    organization = make_organization()
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    return organization


# --- at rest -------------------------------------------------------------------------------------------------


def test_plaintext_api_key_never_reaches_the_database(organization):
    assert TEST_API_KEY not in stored_api_key(organization)


def test_stored_api_key_is_a_fernet_token_of_the_key(settings, organization):
    token = stored_api_key(organization)

    assert Fernet(settings.FIELD_ENCRYPTION_KEYS[0]).decrypt(token.encode()).decode() == TEST_API_KEY


def test_same_key_saved_twice_is_stored_as_different_tokens(db):
    first = make_organization(api_key=TEST_API_KEY)
    second = make_organization(api_key=TEST_API_KEY)

    assert stored_api_key(first) != stored_api_key(second)


def test_resaving_an_organization_keeps_its_stored_token(organization):
    before = stored_api_key(organization)

    organization.name = "Renamed"
    organization.save()

    assert stored_api_key(organization) == before


# --- the loaded value ----------------------------------------------------------------------------------------


def test_loaded_api_key_is_a_secret_that_reveals_the_key(organization):
    loaded = Organization.objects.get(pk=organization.pk).api_key

    assert isinstance(loaded, Secret)
    assert loaded.reveal() == TEST_API_KEY


@pytest.mark.parametrize("render", [str, repr, "{}".format, "{!r}".format], ids=["str", "repr", "format", "format-r"])
def test_secret_renders_masked(organization, render):
    text = render(organization.api_key)

    assert TEST_API_KEY not in text
    assert organization.api_key.ciphertext not in text
    assert "hidden" in text


def test_last4_is_the_end_of_the_key(organization):
    assert organization.api_key.last4 == TEST_API_KEY[-4:]


def test_empty_api_key_loads_as_none(db):
    organization = make_organization(api_key="")

    assert organization.api_key is None
    assert stored_api_key(organization) is None
    assert not organization.has_api_key


# --- key rotation --------------------------------------------------------------------------------------------


def test_token_from_the_old_key_decrypts_with_the_old_key_listed_after_a_new_one(settings, key_a):
    token = encrypt(TEST_API_KEY)

    settings.FIELD_ENCRYPTION_KEYS = [new_key(), key_a]

    assert decrypt(token) == TEST_API_KEY


def test_new_secrets_are_encrypted_with_the_first_listed_key(settings, key_a):
    key_b = new_key()
    settings.FIELD_ENCRYPTION_KEYS = [key_b, key_a]

    token = encrypt(TEST_API_KEY)

    assert Fernet(key_b).decrypt(token.encode()).decode() == TEST_API_KEY


def test_rotate_reencrypts_so_the_old_key_can_be_dropped(settings, key_a):
    old_token = encrypt(TEST_API_KEY)
    key_b = new_key()
    settings.FIELD_ENCRYPTION_KEYS = [key_b, key_a]

    rotated = rotate(old_token)

    settings.FIELD_ENCRYPTION_KEYS = [key_b]
    assert decrypt(rotated) == TEST_API_KEY
    with pytest.raises(SecretDecryptionError):
        decrypt(old_token)


def test_stored_organization_key_survives_rotation(settings, key_a, db):
    organization = make_organization()
    key_b = new_key()
    settings.FIELD_ENCRYPTION_KEYS = [key_b, key_a]
    Organization.objects.filter(pk=organization.pk).update(api_key=Secret(rotate(stored_api_key(organization))))

    settings.FIELD_ENCRYPTION_KEYS = [key_b]

    assert Organization.objects.get(pk=organization.pk).api_key.reveal() == TEST_API_KEY


# --- a key that does not decrypt -----------------------------------------------------------------------------


def test_token_under_an_unlisted_key_raises_secret_decryption_error(settings):
    token = Fernet(new_key()).encrypt(TEST_API_KEY.encode()).decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]

    with pytest.raises(SecretDecryptionError) as caught:
        decrypt(token)

    message = str(caught.value)
    assert "FIELD_ENCRYPTION_KEY" in message
    assert "enter the secret again" in message
    assert TEST_API_KEY not in message
    assert token not in message
    assert caught.value.__cause__ is None  # no chained InvalidToken traceback carrying the token around


def test_rotating_a_token_under_an_unlisted_key_raises_secret_decryption_error(settings):
    token = Fernet(new_key()).encrypt(TEST_API_KEY.encode()).decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]

    with pytest.raises(SecretDecryptionError) as caught:
        rotate(token)

    assert "FIELD_ENCRYPTION_KEY" in str(caught.value)
    assert token not in str(caught.value)


def test_garbage_in_the_column_raises_secret_decryption_error():
    with pytest.raises(SecretDecryptionError):
        Secret("not a fernet token").reveal()


def test_last4_of_an_undecryptable_key_is_empty(lost_key_organization):
    assert lost_key_organization.api_key.last4 == ""


def test_admin_api_key_status_says_an_undecryptable_key_must_be_entered_again(lost_key_organization):
    model_admin = admin.site._registry[Organization]

    assert model_admin.api_key_status(lost_key_organization) == "set, but it does not decrypt: enter it again"


def test_admin_change_page_of_an_undecryptable_key_renders_its_status(admin_client, lost_key_organization):
    response = admin_client.get(f"/admin/sync/organization/{lost_key_organization.pk}/change/")

    assert response.status_code == 200
    assert "set, but it does not decrypt: enter it again" in response.content.decode()


def test_sync_with_an_undecryptable_key_fails_with_a_clear_error_and_sends_nothing(lost_key_organization):
    with responses.RequestsMock():  # no registered URL: any request would raise
        run = sync_organization(organization_id=lost_key_organization.pk)

    assert run.status == SyncRun.Status.FAILED
    assert "cannot be decrypted" in run.error
    assert "internal error" not in run.error
    lost_key_organization.refresh_from_db()
    assert lost_key_organization.last_sync_status == SyncRun.Status.FAILED
    assert lost_key_organization.last_sync_error == run.error


# --- a bad key setting ---------------------------------------------------------------------------------------


def test_a_value_that_is_not_a_fernet_key_is_improperly_configured(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]

    with pytest.raises(ImproperlyConfigured) as caught:
        encrypt(TEST_API_KEY)

    message = str(caught.value)
    assert "FIELD_ENCRYPTION_KEY" in message
    assert "Fernet.generate_key()" in message
    assert "not-a-fernet-key" not in message


def test_one_bad_key_among_good_ones_is_improperly_configured(settings):
    settings.FIELD_ENCRYPTION_KEYS = [new_key(), "short"]

    with pytest.raises(ImproperlyConfigured, match="not a Fernet key"):
        encrypt(TEST_API_KEY)


def test_no_key_at_all_is_improperly_configured(settings):
    settings.FIELD_ENCRYPTION_KEYS = []

    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY is not set"):
        encrypt(TEST_API_KEY)
