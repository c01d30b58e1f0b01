from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from backend.accounts.models import ReaderProfile, Role


def reader_profile_get(*, user) -> ReaderProfile | None:
    if not user.is_authenticated:
        return None
    return ReaderProfile.objects.filter(user=user).first()


def user_get(*, username: str):
    """The active user of that username, or None."""
    return get_user_model().objects.filter(username=username, is_active=True).first()


def user_is_platform_admin(*, user) -> bool:
    """A Django superuser: an admin of every project (project admins are per membership)."""
    return bool(user.is_authenticated and user.is_superuser)


def user_summary(*, user) -> dict:
    profile = reader_profile_get(user=user)
    return {
        "id": user.id,
        "username": user.username,
        "experience": profile.experience if profile else None,
        "role": Role.ADMIN if user_is_platform_admin(user=user) else (Role.READER if profile else None),
        "is_staff": user.is_staff,
    }


def token_is_expired(*, token: Token) -> bool:
    return token.created <= timezone.now() - timedelta(hours=settings.TOKEN_TTL_HOURS)
