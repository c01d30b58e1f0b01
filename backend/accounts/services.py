from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from rest_framework.authtoken.models import Token

from backend.accounts.models import Experience, ReaderProfile, Role
from backend.common.exceptions import ApplicationError

User = get_user_model()


@transaction.atomic
def reader_create(
    *,
    username: str,
    password: str,
    experience: str = Experience.JUNIOR,
    role: str = Role.READER,
    email: str = "",
    validate: bool = True,
) -> ReaderProfile:
    """Create a user with a reader profile; admins also get Django staff rights."""
    if experience not in Experience.values:
        raise ApplicationError(f"Unknown experience level {experience!r}.", code="invalid_experience")
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", code="invalid_role")
    if User.objects.filter(username=username).exists():
        raise ApplicationError(f"User {username!r} already exists.", code="user_exists", status=409)
    if validate:
        validate_password(password)
    is_admin = role == Role.ADMIN
    user = User.objects.create_user(
        username=username, password=password, email=email, is_staff=is_admin, is_superuser=is_admin
    )
    return ReaderProfile.objects.create(user=user, experience=experience, role=role)


def reader_ensure(
    *, username: str, password: str, experience: str, role: str = Role.READER
) -> tuple[ReaderProfile, bool]:
    """Idempotent: the reader with these credentials, created if missing (used by the demo seed)."""
    profile = ReaderProfile.objects.select_related("user").filter(user__username=username).first()
    if profile is not None:
        return profile, False
    return reader_create(
        username=username, password=password, experience=experience, role=role, validate=False
    ), True


def user_token_get_or_create(*, user) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
