from rest_framework.permissions import BasePermission

from backend.accounts.selectors import user_is_project_admin


class IsProjectAdmin(BasePermission):
    message = "Only admins may do this."

    def has_permission(self, request, view) -> bool:
        return user_is_project_admin(user=request.user)
