from django.conf import settings
from django.db import models


class Experience(models.TextChoices):
    JUNIOR = "junior", "Junior"
    SENIOR = "senior", "Senior"


class Role(models.TextChoices):
    """A user's role in one project (projects.Membership.role); a platform admin (a Django
    superuser) is an admin of every project."""

    READER = "reader", "Reader"
    ADMIN = "admin", "Admin"


class ReaderProfile(models.Model):
    """What the platform needs to know about a user: how experienced a reader they are."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reader_profile"
    )
    experience = models.CharField(max_length=16, choices=Experience.choices, default=Experience.JUNIOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"{self.user.username} ({self.experience})"

    @property
    def role(self) -> str:
        """The platform role: admin for a platform admin, else reader (project roles are per membership)."""
        return Role.ADMIN if self.user.is_superuser else Role.READER
