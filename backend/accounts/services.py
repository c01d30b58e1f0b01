from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from rest_framework.authtoken.models import Token

from backend.accounts.models import Experience, ReaderProfile, Role
from backend.accounts.selectors import token_is_expired
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
    """Create a user with a reader profile. role=admin makes a platform admin (a Django superuser,
    an admin of every project); a project's own admins are members with the admin role."""
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
    return ReaderProfile.objects.create(user=user, experience=experience)


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


def user_authenticate(*, request, username: str, password: str):
    """The user of these credentials. django-axes counts the failures: once a username reaches
    AXES_FAILURE_LIMIT of them it is locked out (429) for AXES_COOLOFF_TIME, right password or not."""
    user = authenticate(request, username=username, password=password)
    if user is not None:
        return user
    if getattr(request, "axes_locked_out", False):
        minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
        raise ApplicationError(
            f"Too many failed logins for this user; try again in {minutes} minutes.",
            code="locked_out",
            status=429,
        )
    raise ApplicationError("Wrong username or password.", code="invalid_credentials", status=401)


@transaction.atomic
def user_token_get_or_create(*, user) -> str:
    """The user's API token; an expired one is replaced by a new one."""
    token = Token.objects.select_for_update().filter(user=user).first()
    if token is not None and not token_is_expired(token=token):
        return token.key
    Token.objects.filter(user=user).delete()
    return Token.objects.get_or_create(user=user)[0].key


def user_token_revoke(*, token: Token) -> None:
    Token.objects.filter(pk=token.pk).delete()
