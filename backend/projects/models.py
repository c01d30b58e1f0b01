from django.conf import settings
from django.db import models
from django.utils import timezone

from backend.accounts.models import Role


class AcquisitionStrategy(models.TextChoices):
    RANDOM = "random", "Random"
    ENTROPY = "entropy", "Entropy"
    MARGIN = "margin", "Margin"
    BALD = "bald", "BALD (MC dropout)"


class Allocation(models.TextChoices):
    ALL = "all", "Every reader reads every case"
    ROUND_ROBIN = "round_robin", "Cases dealt round-robin"


class Project(models.Model):
    """A labeling project: its studies, its readers and how its learning loop runs."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    acquisition_strategy = models.CharField(
        max_length=16, choices=AcquisitionStrategy.choices, default=AcquisitionStrategy.RANDOM
    )
    blinded_share = models.FloatField(default=0.1, help_text="share of cases read without suggestions")
    retrain_threshold = models.PositiveIntegerField(
        default=60, help_text="new submitted levels that start a training"
    )
    gate_margin = models.FloatField(
        default=0.02, help_text="quadratic kappa a challenger may lose and still win"
    )
    reference_share = models.FloatField(
        default=0.2, help_text="share of cases in the frozen reference set: read first, never trained on"
    )
    training_preset = models.CharField(
        max_length=16, default="default", help_text="ml training preset: fast (minutes) or default"
    )
    kappa_every = models.PositiveIntegerField(
        default=10, help_text="submitted readings between two agreement snapshots"
    )
    deidentify = models.BooleanField(
        default=False, help_text="de-identify DICOM at ingest (PS3.15 basic profile)"
    )
    allocation = models.CharField(
        max_length=16,
        choices=Allocation.choices,
        default=Allocation.ALL,
        help_text="how cases reach the readers: all of them to every reader, or dealt round-robin",
    )
    reads_per_case = models.PositiveIntegerField(
        default=2, help_text="round-robin: how many readers each case is dealt to"
    )
    reader_case_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="round-robin: the most cases dealt to one reader (empty: no cap)"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user in a project, with their role there: a reader reads its cases, an admin also runs it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.READER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class AuditAction(models.TextChoices):
    MEMBER_ADD = "member.add", "Member added"
    MEMBER_ROLE = "member.role", "Member's role changed"
    MEMBER_REMOVE = "member.remove", "Member removed"
    MODEL_PROMOTE = "model.promote", "Model version promoted"
    MODEL_ROLLBACK = "model.rollback", "Rolled back to a model version"
    TRAINING_START = "training.start", "Training started"
    TRAINING_RETRY = "training.retry", "Training retried"
    REFERENCE_SET_MOVE = "reference_set.move", "Cases moved in or out of the reference set"
    PAIR_OVERRIDE = "pair.override", "CT-MR pair changed"
    EXPORT_DOWNLOAD = "export.download", "Export downloaded"
    ALLOCATION_SET = "allocation.set", "Reader allocation changed"
    LABELS_IMPORT = "labels.import", "Labels imported"
    RESULTS_PUSH = "results.push", "Results sent to the PACS"
    PACS_RETRIEVE = "pacs.retrieve", "Study retrieved from the PACS"


class AuditEntry(models.Model):
    """Who did what in a project, and when; never changed. No actor: the platform did it (the gate,
    a training started by the threshold or the schedule)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    project = models.ForeignKey(
        Project, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries"
    )
    project_slug = models.SlugField(help_text="kept when the project is deleted")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True, help_text="kept when the user is deleted")
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    target_type = models.CharField(max_length=64, blank=True, help_text="app_label.model of the target")
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["project", "action", "-at"])]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_username or 'platform'} {self.action} ({self.project_slug})"
