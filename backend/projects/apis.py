"""Projects as their members see them, and their membership (admins of the project)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.accounts.selectors import user_get
from backend.common.exceptions import ApplicationError
from backend.common.inputs import QueryInput, StrictLimitOffsetPagination
from backend.projects import selectors, services
from backend.projects.models import AuditAction, AuditEntry, Membership


class MyProjectOutput(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices, help_text="your role in the project")


class ProjectListApi(APIView):
    """The projects you are a member of (every project for a platform admin), with your role in each."""

    @extend_schema(operation_id="projects_mine", responses={200: MyProjectOutput(many=True)})
    def get(self, request: Request) -> Response:
        rows = selectors.project_list_with_roles_for_user(user=request.user)
        return Response(MyProjectOutput(rows, many=True).data)


class MemberOutput(serializers.ModelSerializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    experience = serializers.CharField(source="user.reader_profile.experience", default=None)

    class Meta:
        model = Membership
        fields = ["user_id", "username", "experience", "role", "created_at"]


class MemberAddInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices, required=False, help_text="new members: reader")


class MemberRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class MemberListApi(APIView):
    """The project's members and their roles (admins of the project); POST adds one or sets a role."""

    @extend_schema(operation_id="projects_members", responses={200: MemberOutput(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        project = selectors.project_get_for_user(slug=slug, user=request.user, role=Role.ADMIN)
        return Response(MemberOutput(selectors.project_members(project=project), many=True).data)

    @extend_schema(operation_id="projects_member_add", request=MemberAddInput, responses={201: MemberOutput})
    def post(self, request: Request, slug: str) -> Response:
        project = selectors.project_get_for_user(slug=slug, user=request.user, role=Role.ADMIN)
        data = MemberAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_get(username=data.validated_data["username"])
        if user is None:
            raise ApplicationError(
                f"No user {data.validated_data['username']!r}.", code="not_found", status=404
            )
        membership = services.project_member_add(
            project=project, user=user, role=data.validated_data.get("role"), actor=request.user
        )
        return Response(MemberOutput(membership).data, status=status.HTTP_201_CREATED)


def _membership(request: Request, slug: str, user_id: int) -> Membership:
    project = selectors.project_get_for_user(slug=slug, user=request.user, role=Role.ADMIN)
    membership = selectors.project_members(project=project).filter(user_id=user_id).first()
    if membership is None:
        raise ApplicationError(f"User {user_id} is no member of {slug!r}.", code="not_found", status=404)
    return membership


class MemberDetailApi(APIView):
    """Change a member's role, or remove them from the project (admins of the project)."""

    @extend_schema(
        operation_id="projects_member_role", request=MemberRoleInput, responses={200: MemberOutput}
    )
    def patch(self, request: Request, slug: str, user_id: int) -> Response:
        membership = _membership(request, slug, user_id)
        data = MemberRoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.project_member_role_set(
            membership=membership, role=data.validated_data["role"], actor=request.user
        )
        return Response(MemberOutput(membership).data)

    @extend_schema(operation_id="projects_member_remove", responses={204: None})
    def delete(self, request: Request, slug: str, user_id: int) -> Response:
        services.project_member_remove(membership=_membership(request, slug, user_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEntryOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_username", help_text='"" when the platform did it')
    target = serializers.CharField(source="target_repr")

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "action", "target_type", "target_id", "target", "details"]


class AuditQuery(QueryInput):
    action = serializers.ChoiceField(choices=AuditAction.choices, required=False)


class AuditListApi(generics.ListAPIView):
    """Who did what in the project, newest first (admins of the project); `?action=` keeps one kind,
    `?limit=&offset=` pages. As CSV: /api/exports/projects/<slug>/audit.csv."""

    serializer_class = AuditEntryOutput
    pagination_class = StrictLimitOffsetPagination

    @extend_schema(operation_id="projects_audit", parameters=[AuditQuery])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        project = selectors.project_get_for_user(
            slug=self.kwargs["slug"], user=self.request.user, role=Role.ADMIN
        )
        query = AuditQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.audit_entries_for_project(project=project, action=query.validated_data.get("action"))
