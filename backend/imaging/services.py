"""Writes of the imaging app: storing DICOM instances, ingest jobs, CT-MRI pairing."""

import io
import logging
import shutil
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.common.exceptions import ApplicationError
from backend.imaging.deidentify import deidentify
from backend.imaging.dicom import DicomHeader, DicomRejected, check_dicom, geometry_mismatch, read_dicom
from backend.imaging.models import (
    IngestJob,
    Instance,
    Patient,
    PreAnnotationRequest,
    PseudonymEntry,
    Series,
    Study,
    StudyPair,
)
from backend.projects.models import Project

logger = logging.getLogger(__name__)
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class IngestOutcome:
    file: str
    status: str  # stored | duplicate | rejected
    code: str = ""
    message: str = ""
    sop_uid: str = ""
    study_uid: str = ""
    patient_id: str = ""


def instance_ingest(*, path: Path, project: Project | None = None, deidentify_data: bool = False,
                    name: str | None = None) -> IngestOutcome:  # fmt: skip
    """Store one DICOM file: checked, (optionally) de-identified, never overwriting what is stored."""
    name = name or str(path)
    try:
        ds = read_dicom(path)
        if deidentify_data:
            pseudonym, original_id, original_name = deidentify(ds, secret=settings.SECRET_KEY)
            PseudonymEntry.objects.get_or_create(
                pseudonym=pseudonym,
                defaults={"original_patient_id": original_id, "original_patient_name": original_name},
            )
        header = check_dicom(ds)
    except DicomRejected as exc:
        return IngestOutcome(name, "rejected", exc.code, exc.message)
    stored_name = ""
    if Instance.objects.filter(sop_uid=header.sop_uid).exists():
        return IngestOutcome(
            name, "duplicate", "duplicate", "this SOPInstanceUID is stored already; nothing changed",
            header.sop_uid, header.study_uid, header.patient_id,
        )  # fmt: skip
    try:
        with transaction.atomic():
            series = _series_for(header, project)
            problem = geometry_mismatch(
                header, rows=series.rows, columns=series.columns, pixel_spacing=series.pixel_spacing,
                orientation=_series_orientation(series),
            )  # fmt: skip
            if problem:
                raise DicomRejected(
                    "inconsistent_geometry", f"does not fit series {series.series_uid}: {problem}"
                )
            stored_name = _store_file(header, path=path, dataset=ds if deidentify_data else None)
            Instance.objects.create(
                sop_uid=header.sop_uid, series=series, sop_class_uid=header.sop_class_uid,
                instance_number=header.instance_number, image_position=header.image_position,
                image_orientation=header.image_orientation, rows=header.rows, columns=header.columns,
                number_of_frames=header.number_of_frames, transfer_syntax_uid=header.transfer_syntax_uid,
                file=stored_name, size_bytes=default_storage.size(stored_name),
            )  # fmt: skip
    except DicomRejected as exc:
        return IngestOutcome(name, "rejected", exc.code, exc.message, header.sop_uid, header.study_uid)
    except IntegrityError:  # stored meanwhile by another worker: drop our copy, keep theirs
        if stored_name:
            default_storage.delete(stored_name)
        return IngestOutcome(
            name, "duplicate", "duplicate", "stored concurrently; nothing changed", header.sop_uid
        )
    return IngestOutcome(name, "stored", "", "", header.sop_uid, header.study_uid, header.patient_id)


def _store_file(header: DicomHeader, *, path: Path, dataset=None) -> str:
    """Save the file (or the de-identified dataset) in storage; an existing name is never overwritten."""
    storage_name = f"dicom/{header.study_uid}/{header.series_uid}/{header.sop_uid}.dcm"
    if dataset is not None:
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        return default_storage.save(storage_name, ContentFile(buffer.getvalue()))
    with path.open("rb") as handle:
        return default_storage.save(storage_name, File(handle))


def _series_orientation(series: Series):
    first = series.instances.only("image_orientation").first()
    return first.image_orientation if first else None


def _series_for(header: DicomHeader, project: Project | None) -> Series:
    patient, _ = Patient.objects.get_or_create(
        patient_id=header.patient_id,
        defaults={"name": header.patient_name, "birth_date": header.birth_date, "sex": header.sex},
    )
    study, created = Study.objects.get_or_create(
        study_uid=header.study_uid,
        defaults={
            "patient": patient, "modality": header.modality, "study_date": header.study_date,
            "study_time": header.study_time, "accession_number": header.accession_number,
            "description": header.study_description,
        },
    )  # fmt: skip
    if study.patient_id != patient.id:
        raise DicomRejected("inconsistent_patient", f"study {study.study_uid} belongs to another patient")
    if project is not None:
        study.projects.add(project)
    if created and study.modality == "CT":
        # The learning loop's pre-annotation worker consumes these requests.
        PreAnnotationRequest.objects.create(study=study)
    series, _ = Series.objects.get_or_create(
        series_uid=header.series_uid,
        defaults={
            "study": study, "modality": header.modality, "series_number": header.series_number,
            "description": header.series_description, "frame_of_reference_uid": header.frame_of_reference_uid,
            "rows": header.rows, "columns": header.columns, "pixel_spacing": header.pixel_spacing,
            "slice_thickness": header.slice_thickness,
        },
    )  # fmt: skip
    if series.study_id != study.id:
        raise DicomRejected("inconsistent_series", f"series {series.series_uid} belongs to another study")
    return series


# ---- jobs ---------------------------------------------------------------------------------------


def ingest_job_create(*, source: str, project: Project | None, user=None, staging_dir: Path | None = None,
                      deidentify_data: bool | None = None) -> IngestJob:  # fmt: skip
    return IngestJob.objects.create(
        source=source, project=project, created_by=user if user and user.is_authenticated else None,
        staging_dir=str(staging_dir or ""),
        deidentify=project.deidentify if deidentify_data is None and project else bool(deidentify_data),
    )  # fmt: skip


def ingest_job_run(*, job: IngestJob, paths: Iterable[Path] | None = None,
                   progress: Callable[[IngestOutcome], None] | None = None) -> IngestJob:  # fmt: skip
    """Ingest the job's files (its staging folder unless paths are given), keeping its counters current."""
    files = sorted(paths) if paths is not None else _files_under(Path(job.staging_dir))
    job.status, job.total_files = IngestJob.Status.RUNNING, len(files)
    job.save(update_fields=["status", "total_files"])
    patients: set[str] = set()
    try:
        for k, path in enumerate(files, start=1):
            name = str(path.relative_to(job.staging_dir)) if job.staging_dir else str(path)
            outcome = instance_ingest(
                path=path, project=job.project, deidentify_data=job.deidentify, name=name
            )
            _count(job, outcome)
            if outcome.patient_id:
                patients.add(outcome.patient_id)
            if progress:
                progress(outcome)
            if k % 25 == 0:
                job.save(update_fields=["processed_files", "stored", "duplicates", "failed", "errors"])
        for patient in Patient.objects.filter(patient_id__in=patients):
            study_pair_auto(patient=patient)
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
    """Move uploaded files (zips unpacked member by member) into the staging folder; returns bytes."""
    total = 0
    for k, upload in enumerate(files):
        head = upload.read(4)
        upload.seek(0)
        if head == ZIP_MAGIC:
            total += _unzip(upload, staging / f"{k:04d}")
            continue
        target = staging / f"{k:04d}-{Path(upload.name).name or 'file'}"
        with target.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        total += target.stat().st_size
    return total


def _unzip(upload, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    try:
        archive = zipfile.ZipFile(upload)
    except zipfile.BadZipFile as exc:
        raise ApplicationError(f"{upload.name}: not a readable zip archive ({exc})", code="bad_zip") from None
    with archive:
        for k, member in enumerate(archive.infolist()):
            if member.is_dir():
                continue
            target = folder / f"{k:05d}-{Path(member.filename).name}"
            with archive.open(member) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out, length=1 << 20)
            total += member.file_size
    return total


# ---- pairing ------------------------------------------------------------------------------------


def study_pair_auto(*, patient: Patient) -> list[StudyPair]:
    """Pair each CT study with the MR study of the same patient closest in date within the window."""
    window = settings.PAIRING_WINDOW_DAYS
    mr_studies = list(patient.studies.filter(modality="MR"))
    pairs = []
    for ct in patient.studies.filter(modality="CT"):
        pair = StudyPair.objects.filter(ct_study=ct).first()
        if pair is not None and pair.set_by_admin:
            pairs.append(pair)
            continue
        candidates = [
            (abs((mr.study_date - ct.study_date).days), mr)
            for mr in mr_studies
            if mr.study_date and ct.study_date and abs((mr.study_date - ct.study_date).days) <= window
        ]
        gap, mr = min(candidates, key=lambda item: item[0]) if candidates else (None, None)
        pair, _ = StudyPair.objects.update_or_create(
            ct_study=ct, defaults={"patient": patient, "mr_study": mr, "day_gap": gap}
        )
        pairs.append(pair)
    return pairs


def study_pair_set(*, pair: StudyPair, mr_study: Study | None) -> StudyPair:
    """An admin's choice of MR study for a CT study; automatic pairing leaves it alone afterwards."""
    if mr_study is not None:
        if mr_study.modality != "MR":
            raise ApplicationError("The paired study must be an MR study.", code="not_mr")
        if mr_study.patient_id != pair.patient_id:
            raise ApplicationError("The MR study belongs to another patient.", code="other_patient")
    pair.mr_study = mr_study
    pair.day_gap = (
        abs((mr_study.study_date - pair.ct_study.study_date).days)
        if mr_study and mr_study.study_date and pair.ct_study.study_date
        else None
    )
    pair.set_by_admin = True
    pair.save()
    return pair
