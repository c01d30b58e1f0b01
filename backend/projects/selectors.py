from django.db.models import QuerySet

from backend.accounts.selectors import user_is_project_admin
from backend.projects.models import Project


def project_list_for_user(*, user) -> QuerySet[Project]:
    """Admins see every project; readers the projects they are members of."""
    if user_is_project_admin(user=user):
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)
