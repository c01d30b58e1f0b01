from auditlog.context import auditlog_value
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from backend.accounts.selectors import token_is_expired


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token, refused once older than TOKEN_TTL_HOURS; POST /api/auth/token/ hands out a new one."""

    def authenticate_credentials(self, key: str):
        user, token = super().authenticate_credentials(key)
        if token_is_expired(token=token):
            raise exceptions.AuthenticationFailed("Token has expired.", code="token_expired")
        _auditlog_actor_set(user)
        return user, token


def _auditlog_actor_set(user) -> None:
    """django-auditlog's middleware takes the actor from the session before DRF reads the token, so
    a token request's field history would have none: name the user in the request's audit context."""
    try:
        context = auditlog_value.get()
    except LookupError:  # outside a request (a shell, a task): no context to fill
        return
    if context.get("actor") is None:
        context["actor"] = user
