from celery import shared_task

from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_run


@shared_task(name="imaging.ingest_job")
def ingest_job(job_id: int) -> dict:
    """Ingest an upload's staged files; the job's counters show progress meanwhile."""
    job = ingest_job_run(job=IngestJob.objects.get(pk=job_id))
    return {"job": job.pk, "stored": job.stored, "duplicates": job.duplicates, "failed": job.failed}
