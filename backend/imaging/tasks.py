from celery import shared_task

from backend.imaging.models import IngestJob
from backend.imaging.retrieve import RETRIEVE_TASK, pacs_retrieve_run
from backend.imaging.services import ingest_job_run


@shared_task(name="imaging.ingest_job")
def ingest_job(job_id: int) -> dict:
    """Ingest an upload's staged files; the job's counters show progress meanwhile."""
    job = ingest_job_run(job=IngestJob.objects.get(pk=job_id))
    return {"job": job.pk, "stored": job.stored, "duplicates": job.duplicates, "failed": job.failed}


@shared_task(name=RETRIEVE_TASK)
def pacs_retrieve(job_id: int) -> dict:
    """Find a study on the PACS, fetch it (C-GET) and ingest it; the job shows the progress."""
    job = pacs_retrieve_run(job_id=job_id)
    return {"job": job.pk, "status": job.status, "stored": job.stored, "failed": job.failed}
