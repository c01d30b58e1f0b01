from django.urls import path

from backend.projects import apis

urlpatterns = [
    path("", apis.ProjectListApi.as_view(), name="projects-mine"),
    path("<slug:slug>/members/", apis.MemberListApi.as_view(), name="projects-members"),
    path("<slug:slug>/members/<int:user_id>/", apis.MemberDetailApi.as_view(), name="projects-member"),
    path("<slug:slug>/audit/", apis.AuditListApi.as_view(), name="projects-audit"),
]
