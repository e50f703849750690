"""Users of the API in each role, clients logged in as them, and events to read."""

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.contrib.auth.models import Group, Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from sync.models import Organization, SecurityEvent
from tests.factories import ensure_role_groups

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_numbers = count(1)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_event(organization: Organization, *, ts: datetime | None = None, **fields) -> SecurityEvent:
    """An event stored directly (the API reads what ingest stored; how it got there is tested elsewhere)."""
    number = next(_numbers)
    fields.setdefault("event_type", "IDS Alert")
    fields.setdefault("raw", {"eventType": fields["event_type"], "n": number})
    return SecurityEvent.objects.create(
        organization=organization, ts=ts or NOW - timedelta(minutes=number), fingerprint=f"{number:064x}", **fields
    )


def make_user(username: str, *, groups: tuple[str, ...] = (), permissions: tuple[str, ...] = ()) -> User:
    ensure_role_groups()
    user = User.objects.create_user(username, password="not-used-1234")
    user.groups.add(*Group.objects.filter(name__in=groups))
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="sync", codename__in=permissions))
    return user


@pytest.fixture
def analyst(db) -> User:
    return make_user("analyst", groups=("Analyst",))


@pytest.fixture
def viewer(db) -> User:
    """May read everything, may not re-push."""
    return make_user("viewer", permissions=("view_securityevent", "view_incident", "view_syncrun"))


@pytest.fixture
def nobody(db) -> User:
    """Logged in, in no group."""
    return make_user("nobody")


def client_for(user: User | None, **options) -> APIClient:
    client = APIClient(**options)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def analyst_client(analyst) -> APIClient:
    return client_for(analyst)


@pytest.fixture
def analyst_token(analyst) -> Token:
    return Token.objects.create(user=analyst)
