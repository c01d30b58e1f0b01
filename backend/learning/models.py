from django.conf import settings
from django.db import models
from django.utils import timezone

from backend.common.levels import LEVEL_CHOICES
from backend.imaging.models import Study
from backend.projects.models import Project


class ModelVersion(models.Model):
    """A trained two-stage model of a project, and where it stands."""

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        CHALLENGER = "challenger", "Challenger"
        CHAMPION = "champion", "Champion"
        RETIRED = "retired", "Retired"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRAINING)
    checkpoint = models.CharField(max_length=500, blank=True, help_text="path of the ml pipeline checkpoint")
    config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    training_snapshot = models.JSONField(default=dict, blank=True, help_text="which labels it was trained on")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="unique_version_number"),
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(status="champion"), name="one_champion_per_project"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.slug} v{self.number} ({self.status})"

    @property
    def label(self) -> str:
        return f"{self.project.slug}-v{self.number}"


class ModelPromotion(models.Model):
    """One change of a project's champion: a promotion or a rollback, by whom and when (the
    registry's history; never changed). No author: the gate or an import promoted."""

    class Kind(models.TextChoices):
        PROMOTE = "promote", "Promotion"
        ROLLBACK = "rollback", "Rollback"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="promotions")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="promotions")
    replaced = models.ForeignKey(
        ModelVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="the champion it took over from",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.version} at {self.at:%Y-%m-%d %H:%M}"


class LevelPrediction(models.Model):
    """A model version's suggestion at one level of a CT study."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="predictions")
    level = models.CharField(max_length=8, choices=LEVEL_CHOICES)
    box = models.JSONField()
    box_score = models.FloatField()
    probabilities = models.JSONField()
    grade = models.PositiveSmallIntegerField()
    binary_probability = models.FloatField()
    entropy = models.FloatField()
    mutual_information = models.FloatField(null=True, blank=True)
    canal_ap_mm = models.FloatField(
        null=True, blank=True, help_text="the model's own reading of the canal's AP diameter at the level"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "level"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "study", "level"], name="one_prediction_per_level"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_version.label} {self.level}: {self.grade}"


class TrainingRun(models.Model):
    """One training of a project's model: what started it, how far it got, what it produced."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        THRESHOLD = "threshold", "New labels"
        SCHEDULE = "schedule", "Schedule"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="training_runs")
    model_version = models.OneToOneField(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="training_run"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries"
    )
    labels_used = models.PositiveIntegerField(
        default=0, help_text="submitted training levels it was started for"
    )
    progress = models.JSONField(default=dict, blank=True, help_text="stage, epoch, epochs, loss, ...")
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="when its task was last handed to the queue"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_training_per_project",
            )
        ]

    def __str__(self) -> str:
        return f"training {self.pk} of {self.project.slug} ({self.status})"


class ReferenceLabel(models.Model):
    """The grade a level of a case counts as: consensus of its readers, or a senior's adjudication."""

    class Source(models.TextChoices):
        SINGLE = "single", "One reader"
        SENIOR = "senior", "Senior readers"
        MAJORITY = "majority", "Majority of readers"
        ADJUDICATED = "adjudicated", "Adjudicated"

    case = models.ForeignKey("reading.Case", on_delete=models.CASCADE, related_name="reference_labels")
    level = models.CharField(max_length=8, choices=LEVEL_CHOICES)
    grade = models.PositiveSmallIntegerField()
    box = models.JSONField(null=True, blank=True, help_text="mean of the readers' boxes, when they drew any")
    source = models.CharField(max_length=16, choices=Source.choices)
    n_readers = models.PositiveSmallIntegerField()
    frozen = models.BooleanField(default=False, help_text="in the frozen reference set: never trained on")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["case", "level"]
        constraints = [models.UniqueConstraint(fields=["case", "level"], name="one_reference_per_level")]
        indexes = [models.Index(fields=["frozen"])]

    def __str__(self) -> str:
        return f"{self.case} {self.level}: {self.grade} ({self.source})"


class AdjudicationItem(models.Model):
    """A level whose readings disagree too much: a senior reader decides its grade (one item per reason)."""

    class Reason(models.TextChoices):
        READERS_DISAGREE = "readers_disagree", "Readers differ by 2 grades or more"
        MODEL_SENIOR_DISAGREE = "model_senior_disagree", "Model and a senior differ by 2 grades or more"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    case = models.ForeignKey("reading.Case", on_delete=models.CASCADE, related_name="adjudications")
    level = models.CharField(max_length=8, choices=LEVEL_CHOICES)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    grades = models.JSONField(help_text="the grades in conflict: reader (or model label) -> grade")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["status", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "level", "reason"], name="one_adjudication_per_level_reason"
            )
        ]

    def __str__(self) -> str:
        return f"adjudicate {self.case} {self.level} ({self.status})"


class KappaSnapshot(models.Model):
    """One agreement figure at one moment: who against whom, on which task, on which cases."""

    class Kind(models.TextChoices):
        MODEL_READER = "model_reader", "Model vs reader"
        MODEL_GROUP = "model_group", "Model vs experience group"
        READER_READER = "reader_reader", "Reader vs reader"
        GROUP_GROUP = "group_group", "Group vs group"

    # The levels a figure is taken on, by what the readers had on screen (LevelAnnotation.display);
    # a pair of readers counts in a subset when both had the same.
    SUBSETS = ("all", "shown", "hidden", "blinded")

    class Trigger(models.TextChoices):
        BATCH = "batch", "Submitted batch"
        MODEL_VERSION = "model_version", "New model version"
        MANUAL = "manual", "Manual"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="kappa_snapshots")
    taken_at = models.DateTimeField(db_index=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    rater_a = models.CharField(max_length=150)
    rater_b = models.CharField(max_length=150)
    task = models.CharField(max_length=8)  # 4grade | binary
    weighting = models.CharField(max_length=12)  # none | quadratic
    subset = models.CharField(max_length=8)  # SUBSETS
    kappa = models.FloatField(null=True)
    ci_low = models.FloatField(null=True)
    ci_high = models.FloatField(null=True)
    n = models.PositiveIntegerField()

    class Meta:
        ordering = ["project", "taken_at"]
        indexes = [models.Index(fields=["project", "kind", "task", "weighting", "subset", "taken_at"])]

    def __str__(self) -> str:
        return f"{self.rater_a} vs {self.rater_b} {self.task}/{self.weighting}/{self.subset}: {self.kappa}"
