from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from backend.common.levels import LEVEL_CHOICES
from backend.imaging.models import Study, StudyPair
from backend.projects.models import Project


class Case(models.Model):
    """A CT/MRI pair to be read in a project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="cases")
    pair = models.ForeignKey(StudyPair, on_delete=models.CASCADE, related_name="cases")
    blinded = models.BooleanField(default=False, help_text="read without model suggestions")
    priority = models.FloatField(default=0.0, help_text="active-learning priority; higher is read first")
    in_reference_set = models.BooleanField(
        default=False, help_text="in the project's frozen reference set: read first, never trained on"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-priority", "pk"]
        constraints = [models.UniqueConstraint(fields=["project", "pair"], name="unique_case_per_pair")]
        indexes = [models.Index(fields=["project", "-priority"])]

    def __str__(self) -> str:
        return f"case {self.pk} ({self.project.slug})"


class CaseAllocation(models.Model):
    """A case dealt to a reader in a project that deals its cases round-robin (Project.allocation);
    the worklist serves that reader only the cases dealt to them. `for_adjudication`: dealt to a
    senior so that they read it and can decide the readers' disagreement."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="allocations")
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="case_allocations"
    )
    for_adjudication = models.BooleanField(default=False)
    dealt_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "reader"], name="one_allocation_per_reader")]

    def __str__(self) -> str:
        return f"{self.case} dealt to {self.reader}"


class Assignment(models.Model):
    """One reader's reading of one case."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="assignments")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    started_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    time_spent_s = models.FloatField(default=0.0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "reader"], name="one_reading_per_reader")]

    def __str__(self) -> str:
        return f"{self.reader} on {self.case} ({self.status})"


class LevelAnnotation(models.Model):
    """A reader's grade, ROI box and note at one level of a case."""

    class Display(models.TextChoices):
        NO_MODEL = "no_model", "No model suggestion for the level"
        BLINDED = "blinded", "Blinded case"
        SHOWN = "shown", "Suggestion shown"
        HIDDEN = "hidden", "Suggestion hidden by the reader"
        IMPORTED = "imported", "Imported from an earlier reading outside the platform"

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="levels")
    level = models.CharField(max_length=8, choices=LEVEL_CHOICES)
    grade = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(3)]
    )
    box = models.JSONField(null=True, blank=True, help_text="[x0, y0, x1, y1] in the CT sagittal reformat")
    note = models.TextField(blank=True)
    measurements = models.JSONField(
        default=dict,
        blank=True,
        help_text="caliper measurements: canal_ap, body_ap -> {points: two [x, y, z] patient mm, mm}",
    )
    model_version_shown = models.CharField(
        max_length=64, blank=True, help_text="the champion whose suggestion for the level the view offered"
    )
    suggestion_shown = models.BooleanField(default=False, help_text="display == shown")
    display = models.CharField(
        max_length=8,
        choices=Display.choices,
        default=Display.NO_MODEL,
        help_text="what the reader had on screen when the grade was last set",
    )
    version = models.PositiveIntegerField(
        default=1, help_text="optimistic concurrency: bumps on every change"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["assignment", "level"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "level"], name="one_annotation_per_level")
        ]

    def __str__(self) -> str:
        return f"{self.level}: {self.grade}"


class AnnotationEvent(models.Model):
    """Every change to an annotation: who, when, before and after."""

    annotation = models.ForeignKey(LevelAnnotation, on_delete=models.CASCADE, related_name="events")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    action = models.CharField(max_length=16)  # create | update | submit
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} {self.annotation_id} at {self.at:%Y-%m-%d %H:%M}"


class LevelPosition(models.Model):
    """Where a disc level lies in one study, from one source; rows are never changed (the history).

    The best current position of a level is the reader's own correction, then the model's, then the
    finder's (backend.reading.level_positions). A reader's correction belongs to their reading of one
    case and is never shown to anyone else.
    """

    class Source(models.TextChoices):
        FINDER = "finder", "Model-free finder"
        MODEL = "model", "Model"
        READER = "reader", "Reader"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="level_positions")
    level = models.CharField(max_length=8, choices=LEVEL_CHOICES)
    source = models.CharField(max_length=8, choices=Source.choices)
    centre = models.JSONField(help_text="the disc's centre [x, y, z], patient mm")
    normal = models.JSONField(help_text="the disc plane's unit normal, pointing superiorly")
    canal = models.JSONField(null=True, blank=True, help_text="the canal's centre at the level, patient mm")
    confidence = models.FloatField(null=True, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, null=True, blank=True, related_name="level_positions"
    )
    model_version = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "level", "-created_at", "-pk"]
        indexes = [models.Index(fields=["study", "source", "level"])]

    def __str__(self) -> str:
        return f"{self.level} of study {self.study_id} ({self.source})"
