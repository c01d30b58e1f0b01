from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from backend.accounts.selectors import token_is_expired


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token, refused once older than TOKEN_TTL_HOURS; POST /api/auth/token/ hands out a new one."""

    def authenticate_credentials(self, key: str):
        user, token = super().authenticate_credentials(key)
        if token_is_expired(token=token):
            raise exceptions.AuthenticationFailed("Token has expired.", code="token_expired")
        return user, token
