from django.contrib import admin

from backend.reading.models import (
    AnnotationEvent,
    Assignment,
    Case,
    CaseAllocation,
    LevelAnnotation,
    LevelPosition,
)


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("pk", "project", "pair", "blinded", "priority", "created_at")
    list_filter = ("project", "blinded")
    search_fields = ("pair__patient__patient_id",)


class LevelAnnotationInline(admin.TabularInline):
    model = LevelAnnotation
    extra = 0
    readonly_fields = ("version", "updated_at")


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("case", "reader", "status", "time_spent_s", "started_at", "submitted_at")
    list_filter = ("status", "case__project")
    search_fields = ("reader__username",)
    inlines = [LevelAnnotationInline]


@admin.register(AnnotationEvent)
class AnnotationEventAdmin(admin.ModelAdmin):
    """Read only: an annotation's history is never written or deleted by hand (an add form of
    read-only fields saved an empty event: a 500)."""

    list_display = ("annotation", "user", "action", "at")
    list_filter = ("action",)
    readonly_fields = ("annotation", "user", "action", "before", "after", "at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LevelAnnotation)
class LevelAnnotationAdmin(admin.ModelAdmin):
    list_display = (
        "assignment",
        "level",
        "grade",
        "model_version_shown",
        "display",
        "version",
        "updated_at",
    )
    list_filter = ("assignment__case__project", "level", "grade", "display")
    search_fields = ("assignment__reader__username", "model_version_shown")


@admin.register(LevelPosition)
class LevelPositionAdmin(admin.ModelAdmin):
    """Read only: positions are history; a correction is a new row made from the reading view."""

    list_display = ("study", "level", "source", "author", "confidence", "created_at")
    list_filter = ("source", "level")
    search_fields = ("study__study_uid", "author__username")
    readonly_fields = [f.name for f in LevelPosition._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CaseAllocation)
class CaseAllocationAdmin(admin.ModelAdmin):
    """Read only: cases are dealt by the project's allocation setting."""

    list_display = ("case", "reader", "for_adjudication", "dealt_at")
    list_filter = ("for_adjudication", "case__project")
    search_fields = ("reader__username",)
    readonly_fields = ("case", "reader", "for_adjudication", "dealt_at")

    def has_add_permission(self, request) -> bool:
        return False
