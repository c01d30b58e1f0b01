"""Brute force on login and token (django-axes), expiring tokens, and logout revoking a token."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.backend.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def _cool_off_passes() -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))


@pytest.mark.parametrize("endpoint", ["/api/auth/login/", "/api/auth/token/"])
def test_the_sixth_wrong_password_is_429_and_the_right_one_works_after_the_cool_off(reader, endpoint):
    client, username = APIClient(), reader.user.username
    wrong = {"username": username, "password": "wrong-password"}
    for _ in range(5):
        assert client.post(endpoint, wrong, format="json").status_code == 401
    response = client.post(endpoint, wrong, format="json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "locked_out"
    right = {"username": username, "password": DEFAULT_PASSWORD}
    assert client.post(endpoint, right, format="json").status_code == 429, "locked out, right password or not"
    other = APIClient().post(endpoint, {**wrong, "username": "someone-else"}, format="json")
    assert other.status_code == 401, "only that username is locked"
    _cool_off_passes()
    assert client.post(endpoint, right, format="json").status_code == 200


def test_a_success_resets_the_count(reader):
    client, username = APIClient(), reader.user.username
    for _ in range(5):
        client.post("/api/auth/login/", {"username": username, "password": "nope"}, format="json")
    assert (
        client.post(
            "/api/auth/login/", {"username": username, "password": DEFAULT_PASSWORD}, format="json"
        ).status_code
        == 200
    )
    for _ in range(5):
        assert (
            client.post(
                "/api/auth/login/", {"username": username, "password": "nope"}, format="json"
            ).status_code
            == 401
        )


def _token(username: str) -> str:
    response = APIClient().post(
        "/api/auth/token/", {"username": username, "password": DEFAULT_PASSWORD}, format="json"
    )
    return response.json()["token"]


def test_a_token_expires_after_token_ttl_hours_and_a_new_one_is_handed_out(reader):
    token = _token(reader.user.username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/auth/me/").status_code == 200
    Token.objects.filter(key=token).update(created=F("created") - timedelta(hours=13))
    response = client.get("/api/auth/me/")
    assert response.status_code == 401 and response.json()["error"]["code"] == "token_expired"
    with override_settings(TOKEN_TTL_HOURS=24):
        assert client.get("/api/auth/me/").status_code == 200
    fresh = _token(reader.user.username)
    assert fresh != token
    client.credentials(HTTP_AUTHORIZATION=f"Token {fresh}")
    assert client.get("/api/auth/me/").status_code == 200
    assert _token(reader.user.username) == fresh, "a valid token is handed out again"


def test_logout_with_a_token_revokes_it(reader):
    token = _token(reader.user.username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/auth/logout/").status_code == 204
    assert client.get("/api/auth/me/").status_code == 401
    assert not Token.objects.filter(key=token).exists()
