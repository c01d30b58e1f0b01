from django.contrib.auth import login, logout
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.selectors import user_summary
from backend.accounts.services import user_authenticate, user_token_get_or_create, user_token_revoke
from backend.common.schema import errors


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    experience = serializers.CharField(allow_null=True)
    role = serializers.CharField(allow_null=True)
    is_staff = serializers.BooleanField()


class CredentialsInput(serializers.Serializer):
    # As typed: a password's leading or trailing spaces are part of it (DRF would trim them away).
    username = serializers.CharField(trim_whitespace=False)
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


def _authenticate(request: Request):
    data = CredentialsInput(data=request.data)
    data.is_valid(raise_exception=True)
    return user_authenticate(request=request, **data.validated_data)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class LoginApi(APIView):
    """Session login for the browser app. GET only sets the CSRF cookie."""

    permission_classes = [AllowAny]

    @extend_schema(operation_id="auth_csrf", responses={204: None})
    def get(self, request: Request) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="auth_login", request=CredentialsInput, responses={200: MeOutput, **errors(429)}
    )
    def post(self, request: Request) -> Response:
        user = _authenticate(request)
        login(request, user)
        return Response(MeOutput(user_summary(user=user)).data)


class LogoutApi(APIView):
    """Ends the session; a request made with a token also revokes that token."""

    @extend_schema(operation_id="auth_logout", request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, Token):
            user_token_revoke(token=request.auth)
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenApi(APIView):
    """A token for scripts and workers: send it as `Authorization: Token <key>`; it expires after
    TOKEN_TTL_HOURS (then ask again) and logging out with it revokes it."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="auth_token",
        request=CredentialsInput,
        responses={
            200: inline_serializer(name="TokenOutput", fields={"token": serializers.CharField()}),
            **errors(401, 429),
        },
    )
    def post(self, request: Request) -> Response:
        user = _authenticate(request)
        return Response({"token": user_token_get_or_create(user=user)})


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="auth_me", responses={200: MeOutput})
    def get(self, request: Request) -> Response:
        return Response(MeOutput(user_summary(user=request.user)).data)
