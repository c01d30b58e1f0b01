from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "backend.exports"
    label = "exports"

    def ready(self) -> None:
        from backend.exports import receivers
        from backend.learning.signals import reference_labels_updated
        from backend.projects.models import Project

        reference_labels_updated.connect(
            receivers.result_push_after_labels,
            sender=Project,
            dispatch_uid="exports.result_push_after_labels",
        )
