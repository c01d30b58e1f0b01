from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "backend.learning"
    label = "learning"

    def ready(self) -> None:
        from backend.imaging.models import IngestJob
        from backend.imaging.signals import ingest_finished
        from backend.learning import receivers, selectors
        from backend.projects.models import Project
        from backend.reading.models import Assignment
        from backend.reading.signals import assignment_submitted, labels_imported
        from backend.reading.suggestions import suggestions_provider_register

        suggestions_provider_register(
            study_suggestions=selectors.study_suggestions,
            suggestion_label=selectors.champion_suggestion_label,
            champion_label=selectors.champion_label,
        )

        ingest_finished.connect(
            receivers.preannotation_wake_after_ingest,
            sender=IngestJob,
            dispatch_uid="learning.preannotation_wake_after_ingest",
        )
        ingest_finished.connect(
            receivers.levels_find_after_ingest,
            sender=IngestJob,
            dispatch_uid="learning.levels_find_after_ingest",
        )
        labels_imported.connect(
            receivers.labels_submitted_queue_after_import,
            sender=Project,
            dispatch_uid="learning.labels_submitted_queue_after_import",
        )
        assignment_submitted.connect(
            receivers.labels_submitted_queue,
            sender=Assignment,
            dispatch_uid="learning.labels_submitted_queue",
        )
