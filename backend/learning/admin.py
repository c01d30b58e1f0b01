from django.contrib import admin

from backend.common.exceptions import ApplicationError
from backend.imaging.models import PreAnnotationRequest, Study
from backend.learning.models import (
    AdjudicationItem,
    KappaSnapshot,
    LevelPrediction,
    ModelPromotion,
    ModelVersion,
    ReferenceLabel,
    TrainingRun,
)
from backend.learning.services import model_version_promote, model_version_rollback, training_run_retry


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("project", "number", "status", "created_at", "promoted_at")
    list_filter = ("project", "status")
    search_fields = ("project__slug",)
    actions = ["promote", "rollback", "rerun_preannotation"]

    @admin.action(description="Promote to champion")
    def promote(self, request, queryset):
        for version in queryset:
            model_version_promote(version=version, actor=request.user)
        self.message_user(request, f"Promoted {queryset.count()} version(s).")

    @admin.action(description="Roll back these versions' projects to their previous champion")
    def rollback(self, request, queryset):
        for project in {v.project for v in queryset}:
            try:
                back = model_version_rollback(project=project, actor=request.user)
                self.message_user(request, f"{project.slug}: {back.label} is champion again.")
            except ApplicationError as exc:
                self.message_user(request, f"{project.slug}: {exc.message}", level="error")

    @admin.action(description="Re-run pre-annotation of these versions' projects")
    def rerun_preannotation(self, request, queryset):
        waiting = PreAnnotationRequest.objects.filter(status=PreAnnotationRequest.Status.PENDING).values(
            "study"
        )
        studies = Study.objects.filter(projects__in={v.project_id for v in queryset}, modality="CT").exclude(
            pk__in=waiting
        )
        created = PreAnnotationRequest.objects.bulk_create(
            [PreAnnotationRequest(study=s) for s in studies.distinct()]
        )
        self.message_user(request, f"Queued {len(created)} studies for pre-annotation.")


@admin.register(LevelPrediction)
class LevelPredictionAdmin(admin.ModelAdmin):
    list_display = ("model_version", "study", "level", "grade", "binary_probability", "entropy")
    list_filter = ("model_version", "level")
    search_fields = ("study__study_uid", "study__patient__patient_id")


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "project",
        "status",
        "trigger",
        "labels_used",
        "model_version",
        "created_at",
        "finished_at",
    )
    list_filter = ("project", "status", "trigger")
    readonly_fields = ("progress", "heartbeat_at", "worker", "error")
    search_fields = ("project__slug", "worker")
    actions = ["retry"]

    @admin.action(description="Retry failed trainings")
    def retry(self, request, queryset):
        for run in queryset:
            try:
                training_run_retry(run=run, actor=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"run {run.pk}: {exc.message}", level="error")


@admin.register(ReferenceLabel)
class ReferenceLabelAdmin(admin.ModelAdmin):
    list_display = ("case", "level", "grade", "source", "n_readers", "frozen", "updated_at")
    list_filter = ("case__project", "source", "frozen", "level")
    search_fields = ("case__pair__patient__patient_id",)


@admin.register(AdjudicationItem)
class AdjudicationItemAdmin(admin.ModelAdmin):
    list_display = ("case", "level", "reason", "status", "resolved_grade", "resolved_by", "created_at")
    list_filter = ("case__project", "status", "reason")
    search_fields = ("case__pair__patient__patient_id",)


@admin.register(KappaSnapshot)
class KappaSnapshotAdmin(admin.ModelAdmin):
    list_display = (
        "project",
        "taken_at",
        "kind",
        "rater_a",
        "rater_b",
        "task",
        "weighting",
        "subset",
        "kappa",
        "n",
    )
    list_filter = ("project", "kind", "task", "weighting", "subset", "trigger")
    search_fields = ("rater_a", "rater_b")


@admin.register(ModelPromotion)
class ModelPromotionAdmin(admin.ModelAdmin):
    """Read only: the registry's promotion history is never changed."""

    list_display = ("project", "version", "kind", "replaced", "by", "at")
    list_filter = ("kind", "project")
    search_fields = ("project__slug", "by__username")
    readonly_fields = ("project", "version", "replaced", "kind", "by", "at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # rollbacks follow this history: a deleted row would change where they lead
