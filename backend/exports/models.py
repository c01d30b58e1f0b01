from django.db import models

from backend.reading.models import Assignment, Case


class ResultPush(models.Model):
    """One reading's SR on its way to the results destination (a PACS), and how that went."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        FINALISED = "finalised", "Case finalised"
        ADMIN = "admin", "Admin"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="result_pushes")
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="result_pushes")
    destination = models.CharField(max_length=500)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sop_uid = models.CharField(max_length=64, blank=True, help_text="the SR's SOP Instance UID")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["case", "destination"])]

    def __str__(self) -> str:
        return f"SR of case {self.case_id} to {self.destination}: {self.status}"
