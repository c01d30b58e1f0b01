from django.contrib import admin

from backend.imaging import models
from backend.imaging.services import study_pair_auto


@admin.register(models.Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("patient_id", "sex", "birth_date", "created_at")
    search_fields = ("patient_id", "name")


@admin.register(models.Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("study_uid", "patient", "modality", "study_date", "description")
    list_filter = ("modality", "projects")
    search_fields = ("study_uid", "patient__patient_id", "accession_number")
    list_select_related = ("patient",)
    actions = ["re_pair"]

    @admin.action(description="Re-pair CT and MRI of these studies' patients")
    def re_pair(self, request, queryset):
        patients = {study.patient for study in queryset}
        for patient in patients:
            study_pair_auto(patient=patient)
        self.message_user(request, f"Re-paired the studies of {len(patients)} patient(s).")


@admin.register(models.Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ("series_uid", "study", "modality", "series_number", "description", "rows", "columns")
    list_filter = ("modality",)
    search_fields = ("series_uid", "study__study_uid")
    list_select_related = ("study",)


@admin.register(models.Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ("sop_uid", "series", "instance_number", "transfer_syntax_uid", "size_bytes")
    search_fields = ("sop_uid", "series__series_uid")
    list_select_related = ("series",)


@admin.register(models.StudyPair)
class StudyPairAdmin(admin.ModelAdmin):
    list_display = ("patient", "ct_study", "mr_study", "day_gap", "set_by_admin", "updated_at")
    list_filter = ("set_by_admin",)
    search_fields = ("patient__patient_id",)
    raw_id_fields = ("ct_study", "mr_study")


@admin.register(models.IngestJob)
class IngestJobAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "source",
        "status",
        "project",
        "total_files",
        "stored",
        "duplicates",
        "failed",
        "created_at",
    )
    list_filter = ("source", "status")


@admin.register(models.PreAnnotationRequest)
class PreAnnotationRequestAdmin(admin.ModelAdmin):
    list_display = ("study", "status", "created_at")
    list_filter = ("status",)


@admin.register(models.PseudonymEntry)
class PseudonymEntryAdmin(admin.ModelAdmin):
    list_display = ("pseudonym", "original_patient_id", "created_at")
    search_fields = ("pseudonym", "original_patient_id")
