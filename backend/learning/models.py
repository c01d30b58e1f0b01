from django.db import models

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
