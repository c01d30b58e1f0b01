from django.contrib import admin

from backend.learning.models import LevelPrediction, ModelVersion
from backend.learning.services import model_version_promote


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("project", "number", "status", "created_at", "promoted_at")
    list_filter = ("project", "status")
    actions = ["promote"]

    @admin.action(description="Promote to champion")
    def promote(self, request, queryset):
        for version in queryset:
            model_version_promote(version=version)
        self.message_user(request, f"Promoted {queryset.count()} version(s).")


@admin.register(LevelPrediction)
class LevelPredictionAdmin(admin.ModelAdmin):
    list_display = ("model_version", "study", "level", "grade", "binary_probability", "entropy")
    list_filter = ("model_version", "level")
