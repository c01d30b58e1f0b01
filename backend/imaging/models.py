from django.conf import settings
from django.db import models

from backend.projects.models import Project


class Modality(models.TextChoices):
    CT = "CT", "CT"
    MR = "MR", "MR"


class Patient(models.Model):
    patient_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    birth_date = models.CharField(max_length=8, blank=True)
    sex = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.patient_id


class Study(models.Model):
    study_uid = models.CharField(max_length=64, unique=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="studies")
    projects = models.ManyToManyField(Project, related_name="studies", blank=True)
    modality = models.CharField(max_length=2, choices=Modality.choices)
    study_date = models.DateField(null=True, blank=True)
    study_time = models.CharField(max_length=16, blank=True)
    accession_number = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["patient__patient_id", "study_date"]
        indexes = [models.Index(fields=["study_date"]), models.Index(fields=["modality"])]

    def __str__(self) -> str:
        return f"{self.modality} {self.study_uid}"


class Series(models.Model):
    series_uid = models.CharField(max_length=64, unique=True)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    modality = models.CharField(max_length=2, choices=Modality.choices)
    series_number = models.IntegerField(null=True, blank=True)
    description = models.CharField(max_length=200, blank=True)
    frame_of_reference_uid = models.CharField(max_length=64, blank=True)
    rows = models.PositiveIntegerField()
    columns = models.PositiveIntegerField()
    pixel_spacing = models.JSONField(null=True, blank=True)
    slice_thickness = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "series"
        ordering = ["study", "series_number"]

    def __str__(self) -> str:
        return f"{self.modality} series {self.series_number} {self.description}"


class Instance(models.Model):
    sop_uid = models.CharField(max_length=64, unique=True)
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_class_uid = models.CharField(max_length=64)
    instance_number = models.IntegerField(null=True, blank=True)
    image_position = models.JSONField(null=True, blank=True)
    image_orientation = models.JSONField(null=True, blank=True)
    rows = models.PositiveIntegerField()
    columns = models.PositiveIntegerField()
    number_of_frames = models.PositiveIntegerField(default=1)
    transfer_syntax_uid = models.CharField(max_length=64)
    file = models.FileField(upload_to="dicom/", max_length=300)
    size_bytes = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series", "instance_number"]

    def __str__(self) -> str:
        return self.sop_uid


class StudyPair(models.Model):
    """The CT study and the MRI study read together for one patient."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="pairs")
    ct_study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="pair_as_ct")
    mr_study = models.ForeignKey(
        Study, on_delete=models.CASCADE, related_name="pairs_as_mr", null=True, blank=True
    )
    day_gap = models.IntegerField(null=True, blank=True)
    set_by_admin = models.BooleanField(default=False, help_text="automatic pairing leaves this pair alone")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.patient}: {self.ct_study_id} + {self.mr_study_id}"


class IngestJob(models.Model):
    class Source(models.TextChoices):
        FOLDER = "folder", "Folder"
        UPLOAD = "upload", "Upload"
        STOW = "stow", "STOW-RS"
        DIMSE = "dimse", "DICOM C-STORE"
        PACS = "pacs", "PACS retrieve (C-FIND, C-GET)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(
        Project, on_delete=models.SET_NULL, null=True, blank=True, related_name="ingest_jobs"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    staging_dir = models.CharField(max_length=500, blank=True)
    total_files = models.PositiveIntegerField(default=0)
    processed_files = models.PositiveIntegerField(default=0)
    stored = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{"file": ..., "code": ..., "message": ...}]
    deidentify = models.BooleanField(default=False)
    query = models.JSONField(
        default=dict, blank=True, help_text="a PACS retrieve: what was asked of which PACS"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"ingest job {self.pk} ({self.source}, {self.status})"


class PreAnnotationRequest(models.Model):
    """A CT study waiting for the champion model's suggestions (consumed by the learning loop)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="preannotation_requests")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"pre-annotation of {self.study_id} ({self.status})"


class PseudonymEntry(models.Model):
    """Original identifiers behind a pseudonym; only admins see this table."""

    pseudonym = models.CharField(max_length=64, unique=True)
    original_patient_id = models.CharField(max_length=64)
    original_patient_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.pseudonym
