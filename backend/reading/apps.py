from django.apps import AppConfig


class ReadingConfig(AppConfig):
    name = "backend.reading"
    label = "reading"

    def ready(self) -> None:
        from backend.imaging.models import IngestJob
        from backend.imaging.signals import ingest_finished
        from backend.projects.models import Membership
        from backend.projects.signals import membership_changed
        from backend.reading import receivers

        ingest_finished.connect(
            receivers.cases_sync_after_ingest,
            sender=IngestJob,
            dispatch_uid="reading.cases_sync_after_ingest",
        )
        membership_changed.connect(
            receivers.cases_deal_after_membership,
            sender=Membership,
            dispatch_uid="reading.cases_deal_after_membership",
        )
