"""The reading app's answers to what lower apps announce; connected in ReadingConfig.ready()."""

from backend.imaging.models import IngestJob
from backend.projects.models import Project
from backend.reading.allocation import case_allocations_deal
from backend.reading.services import case_sync_for_project


def cases_sync_after_ingest(*, job: IngestJob, **kwargs) -> None:
    """An ingest into a project makes (or updates) that project's cases."""
    if job.project is not None:
        case_sync_for_project(project=job.project)


def cases_deal_after_membership(*, project: Project, **kwargs) -> None:
    """A reader joined or left, or a role changed: the project's cases are dealt again."""
    case_allocations_deal(project=project, redeal=True)
