"""/account/token/: a user makes, replaces and revokes their API token; the key is shown once."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db

PAGE = "/account/token/"


@pytest.fixture
def client(analyst) -> Client:
    client = Client()
    client.force_login(analyst)
    return client


def test_the_page_needs_a_login(db):
    response = Client().get(PAGE)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={PAGE}"


def test_without_a_token_the_page_offers_to_create_one(client):
    content = client.get(PAGE).content.decode()

    assert "You have no API token." in content
    assert 'value="create">Create token</button>' in content
    assert "Revoke token" not in content


def test_creating_shows_the_new_key_once(client, analyst):
    response = client.post(PAGE, {"action": "create"})

    key = Token.objects.get(user=analyst).key
    assert response.status_code == 200
    assert key in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]
    later = client.get(PAGE).content.decode()
    assert key not in later
    assert f"<code>{key[:4]}…</code>" in later
    assert "Replace token" in later and "Revoke token" in later


def test_the_new_key_works_for_the_api(client, analyst):
    client.post(PAGE, {"action": "create"})
    key = Token.objects.get(user=analyst).key

    response = Client().get("/api/v1/events", HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 200


def test_replacing_makes_a_new_key_and_the_old_one_stops_working(client, analyst):
    old = Token.objects.create(user=analyst).key

    response = client.post(PAGE, {"action": "replace"})

    new = Token.objects.get(user=analyst).key
    assert new != old
    assert new in response.content.decode()
    assert Client().get("/api/v1/events", HTTP_AUTHORIZATION=f"Token {old}").status_code == 401


def test_revoking_deletes_the_token_and_says_so(client, analyst):
    Token.objects.create(user=analyst)

    response = client.post(PAGE, {"action": "revoke"}, follow=True)

    assert not Token.objects.filter(user=analyst).exists()
    assert response.redirect_chain == [(PAGE, 302)]
    assert "Your API token was revoked" in response.content.decode()


def test_an_existing_key_is_never_shown_in_full(client, analyst):
    key = Token.objects.create(user=analyst).key

    content = client.get(PAGE).content.decode()

    assert key not in content
    assert key[:4] in content


def test_posting_needs_the_csrf_token(analyst):
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)

    response = client.post(PAGE, {"action": "create"})

    assert response.status_code == 403
    assert not Token.objects.filter(user=analyst).exists()


def test_the_buttons_post_with_the_csrf_token(client):
    content = client.get(PAGE).content.decode()

    assert '<form method="post"' in content
    assert 'name="csrfmiddlewaretoken"' in content


def test_a_user_without_any_group_manages_their_own_token(nobody):
    client = Client()
    client.force_login(nobody)

    client.post(PAGE, {"action": "create"})

    assert Token.objects.filter(user=nobody).exists()


def test_an_unknown_action_changes_nothing(client, analyst):
    key = Token.objects.create(user=analyst).key

    client.post(PAGE, {"action": "explode"})

    assert Token.objects.get(user=analyst).key == key
