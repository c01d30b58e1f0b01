from django.contrib import admin

from backend.projects.models import AuditEntry, Membership, Project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "acquisition_strategy",
        "blinded_share",
        "reference_share",
        "retrain_threshold",
        "training_preset",
        "deidentify",
        "allocation",
    )
    list_filter = ("acquisition_strategy", "training_preset", "allocation")
    # Set through PUT /api/reading/projects/<slug>/allocation/, which deals the cases again.
    readonly_fields = ("allocation", "reads_per_case", "reader_case_cap")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "project", "role", "created_at")
    list_filter = ("project", "role")
    search_fields = ("user__username", "project__slug")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read only: an audit entry is never changed or deleted by hand."""

    list_display = ("at", "project_slug", "actor_username", "action", "target_repr")
    list_filter = ("action", "project")
    search_fields = ("actor_username", "project_slug", "target_repr")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
