"""Writes of the imaging app: storing DICOM instances, ingest jobs, CT-MRI pairing."""

import logging
import shutil
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from backend.common.exceptions import ApplicationError
from backend.imaging.ingest import Ingester, IngestOutcome
from backend.imaging.models import IngestJob, Patient, Study, StudyPair
from backend.imaging.signals import ingest_finished
from backend.projects.models import AuditAction, Project
from backend.projects.services import audit_record

logger = logging.getLogger(__name__)
ZIP_MAGIC = b"PK\x03\x04"
PROGRESS_SAVE_INTERVAL_S = 0.5
ZIP_RATIO_FLOOR_BYTES = 1 << 20  # below this, a well-compressed zip is no threat


def instance_ingest(
    *, path: Path, project: Project | None = None, deidentify_data: bool = False, name: str | None = None
) -> IngestOutcome:
    """Store one DICOM file: checked, (optionally) de-identified, never overwriting what is stored."""
    ingester = Ingester(project=project, deidentify_data=deidentify_data)
    [outcome] = ingester.ingest([(path, name or str(path))])
    return outcome


# ---- jobs ---------------------------------------------------------------------------------------


def ingest_job_create(
    *,
    source: str,
    project: Project | None,
    user=None,
    staging_dir: Path | None = None,
    deidentify_data: bool | None = None,
) -> IngestJob:
    return IngestJob.objects.create(
        source=source,
        project=project,
        created_by=user if user and user.is_authenticated else None,
        staging_dir=str(staging_dir or ""),
        deidentify=project.deidentify if deidentify_data is None and project else bool(deidentify_data),
    )


def ingest_job_run(
    *,
    job: IngestJob,
    paths: Iterable[Path] | None = None,
    progress: Callable[[IngestOutcome], None] | None = None,
) -> IngestJob:
    """Ingest the job's files (its staging folder unless paths are given), keeping its counters current."""
    files = sorted(paths) if paths is not None else _files_under(Path(job.staging_dir))
    job.status, job.total_files = IngestJob.Status.RUNNING, len(files)
    job.save(update_fields=["status", "total_files"])
    patients: set[str] = set()
    big = len(files) >= settings.INGEST_PROCESSES_MIN_FILES
    ingester = Ingester(
        project=job.project, deidentify_data=job.deidentify, processes=settings.INGEST_PROCESSES if big else 0
    )
    named = (
        (path, str(path.relative_to(job.staging_dir)) if job.staging_dir else str(path)) for path in files
    )
    saved_at = time.monotonic()
    try:
        for outcome in ingester.ingest(named):
            _count(job, outcome)
            if outcome.patient_id:
                patients.add(outcome.patient_id)
            if progress:
                progress(outcome)
            if time.monotonic() - saved_at >= PROGRESS_SAVE_INTERVAL_S:  # what the progress API shows
                job.save(update_fields=["processed_files", "stored", "duplicates", "failed", "errors"])
                saved_at = time.monotonic()
        study_pairs_auto(
            patient_ids=Patient.objects.filter(patient_id__in=patients).values_list("pk", flat=True)
        )
        # The apps above hear of it: reading makes the project's cases, learning wakes pre-annotation.
        ingest_finished.send(sender=IngestJob, job=job)
        job.status = IngestJob.Status.DONE
    except Exception:
        job.status = IngestJob.Status.FAILED
        logger.exception("ingest job %s failed", job.pk)
        raise
    finally:
        job.finished_at = timezone.now()
        job.save()
        if job.staging_dir and job.status == IngestJob.Status.DONE:
            shutil.rmtree(job.staging_dir, ignore_errors=True)
    return job


def _count(job: IngestJob, outcome: IngestOutcome) -> None:
    job.processed_files += 1
    if outcome.status == "stored":
        job.stored += 1
    elif outcome.status == "duplicate":
        job.duplicates += 1
    else:
        job.failed += 1
        job.errors.append({"file": outcome.file, "code": outcome.code, "message": outcome.message})


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def staging_dir_create() -> Path:
    folder = Path(settings.MEDIA_ROOT) / "staging" / timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def upload_stage(*, files, staging: Path) -> int:
    """Move uploaded files (zips unpacked member by member) into the staging folder; returns bytes.

    The zips of one upload expand within settings.INGEST_ZIP_MAX_BYTES, _MAX_MEMBERS and _MAX_RATIO;
    a refusal (or any failure) removes the staging folder.
    """
    total = 0
    budget = _ZipBudget(
        bytes_left=settings.INGEST_ZIP_MAX_BYTES, members_left=settings.INGEST_ZIP_MAX_MEMBERS
    )
    try:
        for k, upload in enumerate(files):
            head = upload.read(4)
            upload.seek(0)
            if head == ZIP_MAGIC:
                total += _unzip(upload, staging / f"{k:04d}", budget)
                continue
            target = staging / f"{k:04d}-{Path(upload.name).name or 'file'}"
            with target.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            total += target.stat().st_size
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return total


@dataclass
class _ZipBudget:
    """What the zips of one upload may still expand to."""

    bytes_left: int
    members_left: int

    def admit(self, name: str, members: list[zipfile.ZipInfo]) -> None:
        """Refuse an archive whose central directory says it expands too far, before writing any of it.

        zipfile never yields more than a member's declared size (a member that holds more fails its
        CRC check: BadZipFile), so the directory bounds what unpacking writes.
        """
        expanded, compressed = sum(m.file_size for m in members), sum(m.compress_size for m in members)
        if len(members) > self.members_left:
            raise ApplicationError(
                f"{name}: an upload's zips may hold at most {settings.INGEST_ZIP_MAX_MEMBERS} files.",
                code="zip_too_many_files",
            )
        if expanded > self.bytes_left:
            raise ApplicationError(
                f"{name}: an upload's zips may expand to at most {filesizeformat(settings.INGEST_ZIP_MAX_BYTES)}.",
                code="zip_too_large",
                status=413,
            )
        ratio = settings.INGEST_ZIP_MAX_RATIO
        if expanded > ZIP_RATIO_FLOOR_BYTES and expanded > ratio * max(compressed, 1):
            raise ApplicationError(
                f"{name}: expands to more than {ratio:g} times its compressed size; refused as a zip bomb.",
                code="zip_ratio",
            )
        self.members_left -= len(members)
        self.bytes_left -= expanded


def _unzip(upload, folder: Path, budget: _ZipBudget) -> int:
    try:
        with zipfile.ZipFile(upload) as archive:
            members = [(k, m) for k, m in enumerate(archive.infolist()) if not m.is_dir()]
            budget.admit(upload.name, [m for _, m in members])
            folder.mkdir(parents=True, exist_ok=True)
            for k, member in members:
                target = folder / f"{k:05d}-{Path(member.filename).name}"
                with archive.open(member) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out, length=1 << 20)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: an unsupported compression method
        raise ApplicationError(f"{upload.name}: not a readable zip archive ({exc})", code="bad_zip") from None
    return sum(m.file_size for _, m in members)


# ---- pairing ------------------------------------------------------------------------------------


def study_pair_auto(*, patient: Patient) -> list[StudyPair]:
    """Pair each CT study with the MR study of the same patient closest in date within the window."""
    return study_pairs_auto(patient_ids=[patient.pk])


def study_pairs_auto(*, patient_ids: Iterable[int]) -> list[StudyPair]:
    """study_pair_auto for many patients in a fixed number of queries; admins' choices stay."""
    window = settings.PAIRING_WINDOW_DAYS
    studies = list(
        Study.objects.filter(patient_id__in=list(patient_ids)).only(
            "id", "patient_id", "modality", "study_date"
        )
    )
    existing = {pair.ct_study_id: pair for pair in StudyPair.objects.filter(ct_study__in=studies)}
    mr_by_patient: dict[int, list[Study]] = {}
    for study in studies:
        if study.modality == "MR" and study.study_date:
            mr_by_patient.setdefault(study.patient_id, []).append(study)
    pairs, created, changed = [], [], []
    for ct in (study for study in studies if study.modality == "CT"):
        pair = existing.get(ct.pk)
        if pair is not None and pair.set_by_admin:
            pairs.append(pair)
            continue
        candidates = [
            (abs((mr.study_date - ct.study_date).days), mr.pk)
            for mr in mr_by_patient.get(ct.patient_id, [])
            if ct.study_date and abs((mr.study_date - ct.study_date).days) <= window
        ]
        gap, mr_id = min(candidates) if candidates else (None, None)
        if pair is None:
            pair = StudyPair(patient_id=ct.patient_id, ct_study=ct, mr_study_id=mr_id, day_gap=gap)
            created.append(pair)
        elif (pair.mr_study_id, pair.day_gap) != (mr_id, gap):
            pair.mr_study_id, pair.day_gap, pair.updated_at = (
                mr_id,
                gap,
                timezone.now(),
            )  # bulk_update skips auto_now
            changed.append(pair)
        pairs.append(pair)
    StudyPair.objects.bulk_create(created)
    StudyPair.objects.bulk_update(changed, ["mr_study", "day_gap", "updated_at"])
    return pairs


@transaction.atomic
def study_pair_set(*, pair: StudyPair, mr_study: Study | None, actor=None) -> StudyPair:
    """An admin's choice of MR study for a CT study; automatic pairing leaves it alone afterwards.
    Audited in every project of the CT study.

    A pair that is a case somewhere keeps an MR study: a case is read on both.
    """
    if mr_study is None and pair.cases.exists():
        raise ApplicationError(
            "This pair is a case to read; a case needs an MR study. Choose another MR study instead.",
            code="pair_has_cases",
            status=409,
        )
    if mr_study is not None:
        if mr_study.modality != "MR":
            raise ApplicationError("The paired study must be an MR study.", code="not_mr")
        if mr_study.patient_id != pair.patient_id:
            raise ApplicationError("The MR study belongs to another patient.", code="other_patient")
    before = pair.mr_study.study_uid if pair.mr_study_id else None
    pair.mr_study = mr_study
    pair.day_gap = (
        abs((mr_study.study_date - pair.ct_study.study_date).days)
        if mr_study and mr_study.study_date and pair.ct_study.study_date
        else None
    )
    pair.set_by_admin = True
    pair.save()
    details = {
        "ct_study_uid": pair.ct_study.study_uid,
        "from": before,
        "to": mr_study.study_uid if mr_study else None,
    }
    for project in pair.ct_study.projects.all():
        audit_record(
            actor=actor, action=AuditAction.PAIR_OVERRIDE, project=project, target=pair, details=details
        )
    return pair
