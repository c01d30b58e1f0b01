from rest_framework.permissions import BasePermission

from backend.projects.selectors import user_is_admin_anywhere


class IsProjectAdmin(BasePermission):
    """A first gate for admin endpoints: an admin of some project (or a platform admin). Each view
    then checks the role in the project it acts on (`project_get_for_user(role=admin)`)."""

    message = "Only admins may do this."

    def has_permission(self, request, view) -> bool:
        return user_is_admin_anywhere(user=request.user)
