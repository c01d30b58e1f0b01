from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authtoken.models import Token

from backend.accounts.models import ReaderProfile, Role


def reader_profile_get(*, user) -> ReaderProfile | None:
    if not user.is_authenticated:
        return None
    return ReaderProfile.objects.filter(user=user).first()


def user_is_project_admin(*, user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    profile = reader_profile_get(user=user)
    return profile is not None and profile.role == Role.ADMIN


def user_summary(*, user) -> dict:
    profile = reader_profile_get(user=user)
    return {
        "id": user.id,
        "username": user.username,
        "experience": profile.experience if profile else None,
        "role": profile.role if profile else (Role.ADMIN if user.is_superuser else None),
        "is_staff": user.is_staff,
    }


def token_is_expired(*, token: Token) -> bool:
    return token.created <= timezone.now() - timedelta(hours=settings.TOKEN_TTL_HOURS)
