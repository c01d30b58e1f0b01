"""Large jobs: worker processes read, check and copy files; the job's process records them."""

from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from backend.imaging.dicom.files import check_content, stored_name, uid_key
from backend.imaging.ingest import Ingester
from backend.imaging.models import IngestJob, Instance
from tests.backend import dicom_files as F
from tests.backend.test_imaging import run_folder

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_processes(settings):
    settings.INGEST_PROCESSES, settings.INGEST_PROCESSES_MIN_FILES = 2, 1


def assert_every_file_has_its_row(*studies) -> None:
    """In these studies' folders (the media root is shared by the session's tests)."""
    root = Path(default_storage.location) / "dicom"
    files = {
        p
        for uid in {ds.StudyInstanceUID for ds in studies}
        for p in (root / uid_key(uid)).rglob("*")
        if p.is_file()
    }
    assert files == {Path(i.file.path) for i in Instance.objects.all()}


def test_a_large_job_in_worker_processes_keeps_good_files_and_reports_bad_ones(tmp_path, in_processes):
    series = F.write_series(tmp_path / "good", 5)
    F.write_not_dicom(tmp_path / "bad" / "report.txt")
    F.write_truncated(tmp_path / "bad" / "truncated.dcm")
    F.write_other_modality(tmp_path / "bad" / "ultrasound.dcm")
    F.write_image(
        tmp_path / "late" / "odd.dcm",
        study_uid=series[0].StudyInstanceUID,
        series_uid=series[0].SeriesInstanceUID,
        size=48,
    )
    job = run_folder(tmp_path)
    assert (job.stored, job.failed, job.status) == (5, 4, IngestJob.Status.DONE), job.errors
    assert sorted(e["code"] for e in job.errors) == [
        "inconsistent_geometry",
        "not_dicom",
        "truncated",
        "unsupported_modality",
    ]
    assert_every_file_has_its_row(*series)  # the worker's copy of the rejected image is gone
    before = {i.sop_uid: Path(i.file.path).read_bytes() for i in Instance.objects.all()}

    again = run_folder(tmp_path)
    assert (again.stored, again.duplicates, again.failed) == (0, 5, 4)
    assert {i.sop_uid: Path(i.file.path).read_bytes() for i in Instance.objects.all()} == before
    assert_every_file_has_its_row(*series)


def test_a_file_left_without_a_row_is_never_overwritten(tmp_path, in_processes):
    F.write_series(tmp_path / "in", 1)
    orphan = Path(default_storage.location) / stored_name(
        check_content((tmp_path / "in" / "IM0000.dcm").read_bytes())
    )
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left by a crash")
    job = run_folder(tmp_path / "in")
    assert job.stored == 1
    instance = Instance.objects.get()
    assert Path(instance.file.path).read_bytes() == (tmp_path / "in" / "IM0000.dcm").read_bytes()
    assert orphan.read_bytes() == b"left by a crash"


def test_stopping_half_way_leaves_no_copies_without_rows(tmp_path):
    series = F.write_series(tmp_path, 12)
    paths = sorted(tmp_path.iterdir())
    outcomes = Ingester(batch_size=2, processes=2).ingest([(p, p.name) for p in paths])
    assert next(outcomes).status == "stored"
    outcomes.close()  # batches prepared ahead by the workers are dropped
    assert 2 <= Instance.objects.count() < 12
    assert_every_file_has_its_row(*series)


def test_a_worker_failing_to_write_leaves_no_copies_of_its_batch(tmp_path):
    first = F.write_series(tmp_path / "a", 4)
    second = F.write_series(tmp_path / "b", 4, study_uid=first[0].StudyInstanceUID)
    study = Path(default_storage.location) / "dicom" / uid_key(first[0].StudyInstanceUID)
    study.mkdir(parents=True)
    (study / uid_key(second[0].SeriesInstanceUID)).write_text(
        "a file where the series folder goes: like a full disk"
    )
    paths = sorted(tmp_path.rglob("*.dcm"))
    with pytest.raises(OSError):
        list(Ingester(batch_size=8, processes=2).ingest([(p, p.name) for p in paths]))
    assert Instance.objects.count() == 0
    assert not (study / uid_key(first[0].SeriesInstanceUID)).exists() or not any(
        (study / uid_key(first[0].SeriesInstanceUID)).iterdir()
    )
