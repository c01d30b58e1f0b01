from django.db.models import QuerySet

from backend.accounts.models import Role
from backend.accounts.selectors import user_is_platform_admin
from backend.common.exceptions import ApplicationError
from backend.projects.models import AuditEntry, Membership, Project


def project_role_for_user(*, project: Project, user) -> str | None:
    """The user's role in the project: admin for a platform admin, the membership's role for a
    member, None for anyone else."""
    if user_is_platform_admin(user=user):
        return Role.ADMIN
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()


def project_list_for_user(*, user, role: str = Role.READER) -> QuerySet[Project]:
    """The projects where the user holds at least `role`: every project for a platform admin; the
    projects they are a member of (role reader) or an admin of (role admin) for anyone else."""
    if user_is_platform_admin(user=user):
        return Project.objects.all()
    if not user.is_authenticated:
        return Project.objects.none()
    memberships = Membership.objects.filter(user=user)
    if role == Role.ADMIN:
        memberships = memberships.filter(role=Role.ADMIN)
    return Project.objects.filter(pk__in=memberships.values("project_id"))


def project_list_with_roles_for_user(*, user) -> list[dict]:
    """[{slug, name, role}] of the user's projects (every project, as admin, for a platform admin)."""
    if user_is_platform_admin(user=user):
        return [
            {**row, "role": Role.ADMIN} for row in Project.objects.order_by("name").values("slug", "name")
        ]
    rows = Membership.objects.filter(user=user).order_by("project__name")
    return [
        {"slug": slug, "name": name, "role": role}
        for slug, name, role in rows.values_list("project__slug", "project__name", "role")
    ]


def user_is_admin_anywhere(*, user) -> bool:
    """A platform admin, or an admin of at least one project."""
    if user_is_platform_admin(user=user):
        return True
    return user.is_authenticated and Membership.objects.filter(user=user, role=Role.ADMIN).exists()


def project_get_for_user(*, slug: str, user, role: str = Role.READER) -> Project:
    """The project of that slug where the user holds at least `role` (reader: any member).

    Not a member (or no such project): 404, so that nobody learns which other projects exist;
    a member without the role: 403.
    """
    project = Project.objects.filter(slug=slug).first()
    held = project_role_for_user(project=project, user=user) if project is not None else None
    if held is None:
        raise ApplicationError(f"No project {slug!r} in your projects.", code="not_found", status=404)
    if role == Role.ADMIN and held != Role.ADMIN:
        raise ApplicationError(
            f"Only admins of project {slug!r} may do this.", code="permission_denied", status=403
        )
    return project


def project_members(*, project: Project) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(project=project)
        .select_related("user__reader_profile")
        .order_by("user__username")
    )


def audit_entries_for_project(*, project: Project, action: str | None = None) -> QuerySet[AuditEntry]:
    """The project's audit entries, newest first; only those of one action when given."""
    entries = AuditEntry.objects.filter(project=project).order_by("-at", "-pk")
    return entries.filter(action=action) if action else entries
