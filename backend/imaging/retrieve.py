"""Query/retrieve from the hospital's PACS (PACS_PEER): an admin names a study by accession number or
patient id; C-FIND finds it, C-GET brings its instances over the same association (no route back to
our SCP needed), and they are ingested as one job like an upload. The job shows the progress."""

from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.common.exceptions import ApplicationError
from backend.common.tasks import task_send
from backend.imaging.dicom.network import PacsError, Peer, studies_find, study_get
from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_create, ingest_job_run, staging_dir_create
from backend.projects.models import AuditAction, Project
from backend.projects.services import audit_record

RETRIEVE_TASK = "imaging.pacs_retrieve"


def pacs_peer() -> Peer:
    if not settings.PACS_PEER:
        raise ApplicationError("No PACS is configured (PACS_PEER).", code="no_pacs", status=409)
    try:
        peer = Peer.parse(settings.PACS_PEER)
    except ValueError as exc:
        raise ApplicationError(f"PACS_PEER: {exc}", code="bad_pacs", status=409) from exc
    if peer.scheme != "dimse":
        raise ApplicationError("PACS_PEER must be dimse://AE_TITLE@host:port.", code="bad_pacs", status=409)
    return peer


@transaction.atomic
def pacs_retrieve_start(
    *, project: Project, user, accession_number: str = "", patient_id: str = ""
) -> IngestJob:
    """A retrieve job for the studies matching the query, run by a worker after commit."""
    accession_number, patient_id = accession_number.strip(), patient_id.strip()
    if not accession_number and not patient_id:
        raise ApplicationError("Give an accession number or a patient id.", code="empty_query")
    for name, value in (("accession_number", accession_number), ("patient_id", patient_id)):
        if len(value) > 64 or any(c in value for c in "\\*?\x00"):
            raise ApplicationError(
                f"{name} must be an exact value (no wildcards, at most 64 characters).", code="bad_query"
            )
    peer = pacs_peer()
    job = ingest_job_create(
        source=IngestJob.Source.PACS, project=project, user=user, staging_dir=staging_dir_create()
    )
    job.query = {"accession_number": accession_number, "patient_id": patient_id, "peer": str(peer)}
    job.save(update_fields=["query"])
    audit_record(actor=user, action=AuditAction.PACS_RETRIEVE, project=project, target=job, details=job.query)
    transaction.on_commit(lambda: task_send(RETRIEVE_TASK, job.pk))
    return job


def _fail(job: IngestJob, message: str) -> IngestJob:
    job.status, job.finished_at = IngestJob.Status.FAILED, timezone.now()
    job.errors = [*job.errors, {"file": "", "code": "pacs", "message": message}]
    job.save(update_fields=["status", "finished_at", "errors"])
    return job


def pacs_retrieve_run(*, job_id: int) -> IngestJob:
    """Find, fetch and ingest; what the PACS refused or did not send is in the job's errors."""
    job = IngestJob.objects.get(pk=job_id)
    peer, calling = Peer.parse(job.query["peer"]), settings.DICOM_SCP_AE
    job.status = IngestJob.Status.RUNNING
    job.save(update_fields=["status"])
    try:
        found = studies_find(
            peer=peer,
            calling_ae=calling,
            accession_number=job.query.get("accession_number", ""),
            patient_id=job.query.get("patient_id", ""),
        )
    except PacsError as exc:
        return _fail(job, str(exc))
    if not found:
        return _fail(job, "No study on the PACS matches the query.")
    files: list[Path] = []
    for k, study in enumerate(found):

        def progress(done: int, total: int, before: int = len(files)) -> None:
            IngestJob.objects.filter(pk=job.pk).update(total_files=before + total)

        try:
            files += study_get(
                peer=peer,
                calling_ae=calling,
                study_uid=study.study_uid,
                into=Path(job.staging_dir) / f"study-{k}",
                progress=progress,
            )
        except PacsError as exc:
            job.errors = [*job.errors, {"file": study.study_uid, "code": "pacs", "message": str(exc)}]
            job.save(update_fields=["errors"])
    if not files:
        return _fail(job, "The PACS sent no instance.")
    return ingest_job_run(job=job, paths=files)
