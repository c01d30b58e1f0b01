"""Ingestion: real files written with pydicom (good, broken, compressed), pairing, de-identification."""

import io
import time
import zipfile
from datetime import date
from pathlib import Path

import pydicom
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from backend.imaging.models import IngestJob, Instance, PreAnnotationRequest, PseudonymEntry, Study, StudyPair
from backend.imaging.services import (
    ingest_job_create,
    ingest_job_run,
    instance_ingest,
    study_pair_auto,
    study_pair_set,
)
from backend.projects.services import project_create, project_member_add
from tests.backend import dicom_files as F
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db


def run_folder(folder: Path, **kwargs) -> IngestJob:
    job = ingest_job_create(source=IngestJob.Source.FOLDER, project=kwargs.pop("project", None), **kwargs)
    return ingest_job_run(job=job, paths=[p for p in folder.rglob("*") if p.is_file()])


def test_bad_files_get_clear_errors_and_good_ones_are_kept(tmp_path):
    F.write_series(tmp_path / "good", 3)
    F.write_not_dicom(tmp_path / "bad" / "report.txt")
    F.write_truncated(tmp_path / "bad" / "truncated.dcm")
    F.write_without_pixels(tmp_path / "bad" / "nopixels.dcm")
    F.write_other_modality(tmp_path / "bad" / "ultrasound.dcm")
    job = run_folder(tmp_path)
    assert (job.stored, job.failed, job.status) == (3, 4, IngestJob.Status.DONE)
    codes = {Path(e["file"]).name: e["code"] for e in job.errors}
    assert codes == {
        "report.txt": "not_dicom",
        "truncated.dcm": "truncated",
        "nopixels.dcm": "no_pixel_data",
        "ultrasound.dcm": "unsupported_modality",
    }
    assert all(e["message"] for e in job.errors)
    assert Instance.objects.count() == 3


def test_reingesting_changes_nothing_and_says_so(tmp_path):
    F.write_series(tmp_path, 2)
    run_folder(tmp_path)
    stored = {i.sop_uid: (Path(i.file.path).read_bytes(), i.file.name) for i in Instance.objects.all()}
    again = run_folder(tmp_path)
    assert (again.stored, again.duplicates, again.failed) == (0, 2, 0)
    assert {
        i.sop_uid: (Path(i.file.path).read_bytes(), i.file.name) for i in Instance.objects.all()
    } == stored


def test_a_different_file_with_a_stored_uid_never_overwrites(tmp_path):
    first = F.write_image(tmp_path / "a.dcm")
    instance_ingest(path=tmp_path / "a.dcm")
    original = Path(Instance.objects.get().file.path).read_bytes()
    F.write_image(
        tmp_path / "b.dcm",
        sop_uid=first.SOPInstanceUID,
        study_uid=first.StudyInstanceUID,
        series_uid=first.SeriesInstanceUID,
        instance=7,
    )
    outcome = instance_ingest(path=tmp_path / "b.dcm")
    assert outcome.status == "duplicate"
    assert Path(Instance.objects.get().file.path).read_bytes() == original


def test_inconsistent_series_geometry_is_rejected_alone(tmp_path):
    series = F.write_series(tmp_path, 2)
    F.write_image(
        tmp_path / "odd.dcm",
        study_uid=series[0].StudyInstanceUID,
        series_uid=series[0].SeriesInstanceUID,
        size=48,
    )
    F.write_image(
        tmp_path / "zodd.dcm",
        study_uid=series[0].StudyInstanceUID,
        series_uid=series[0].SeriesInstanceUID,
        spacing=0.8,
    )
    job = run_folder(tmp_path)
    assert job.stored == 2
    assert sorted(e["code"] for e in job.errors) == ["inconsistent_geometry", "inconsistent_geometry"]


@pytest.mark.parametrize(
    "sample",
    [
        "MR_small_RLE.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_jp2klossless.dcm",
        "JPGExtended.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "SC_rgb_jpeg_gdcm.dcm",
    ],
)
def test_compressed_transfer_syntaxes_decode(tmp_path, sample):
    ds = F.compressed_sample(sample, tmp_path / "c.dcm")
    assert ds.file_meta.TransferSyntaxUID.is_compressed
    outcome = instance_ingest(path=tmp_path / "c.dcm")
    assert outcome.status == "stored", outcome
    assert Instance.objects.get().transfer_syntax_uid == ds.file_meta.TransferSyntaxUID


def test_compressed_data_that_cannot_be_decoded_is_rejected(tmp_path):
    F.compressed_sample("JPEG-lossy.dcm", tmp_path / "broken.dcm")  # a malformed JPEG stream
    outcome = instance_ingest(path=tmp_path / "broken.dcm")
    assert (outcome.status, outcome.code) == ("rejected", "undecodable")
    assert "JPEG" in outcome.message and not Instance.objects.exists()


def test_ct_and_mri_pair_within_the_window_and_admins_override(tmp_path, settings):
    settings.PAIRING_WINDOW_DAYS = 30
    ct = F.write_series(tmp_path / "ct", 2, patient_id="P7", study_date=date(2025, 1, 10))
    near = F.write_series(tmp_path / "mr1", 1, patient_id="P7", modality="MR", study_date=date(2025, 1, 20))
    F.write_series(tmp_path / "mr2", 1, patient_id="P7", modality="MR", study_date=date(2025, 3, 30))
    F.write_series(tmp_path / "other", 1, patient_id="P8", modality="MR", study_date=date(2025, 1, 10))
    run_folder(tmp_path)
    pair = StudyPair.objects.get(ct_study__study_uid=ct[0].StudyInstanceUID)
    assert pair.mr_study.study_uid == near[0].StudyInstanceUID and pair.day_gap == 10
    nearer = F.write_series(tmp_path / "mr3", 1, patient_id="P7", modality="MR", study_date=date(2025, 1, 12))
    run_folder(tmp_path / "mr3")  # a later ingest re-pairs the patient's CT with the closer MR
    pair.refresh_from_db()
    assert (pair.mr_study.study_uid, pair.day_gap) == (nearer[0].StudyInstanceUID, 2)
    assert StudyPair.objects.count() == 1, "one pair per CT study; the MR-only patient has none"
    far = Study.objects.get(patient__patient_id="P7", study_date=date(2025, 3, 30))
    study_pair_set(pair=pair, mr_study=far)
    study_pair_auto(patient=pair.patient)
    pair.refresh_from_db()
    assert pair.mr_study == far and pair.set_by_admin
    with pytest.raises(Exception, match="another patient"):
        study_pair_set(pair=pair, mr_study=Study.objects.get(patient__patient_id="P8"))


def test_only_new_ct_studies_queue_a_preannotation(tmp_path):
    F.write_series(tmp_path / "ct", 3)
    F.write_series(tmp_path / "mr", 2, modality="MR")
    run_folder(tmp_path)
    run_folder(tmp_path)
    assert PreAnnotationRequest.objects.count() == 1
    assert PreAnnotationRequest.objects.get().study.modality == "CT"


def test_deidentification_at_ingest(tmp_path):
    original = F.write_series(tmp_path, 2, patient_id="MRN-12345", patient_name="SMITH^JOHN")
    job = run_folder(tmp_path, deidentify_data=True)
    assert job.stored == 2
    stored = pydicom.dcmread(Instance.objects.first().file.path)
    assert stored.PatientID.startswith("ANON-") and str(stored.PatientName) == stored.PatientID
    assert "InstitutionName" not in stored and stored.PatientBirthDate == "" and stored.AccessionNumber == ""
    assert stored.PatientIdentityRemoved == "YES"
    assert stored.StudyInstanceUID != original[0].StudyInstanceUID
    entry = PseudonymEntry.objects.get(pseudonym=stored.PatientID)
    assert (entry.original_patient_id, entry.original_patient_name) == ("MRN-12345", "SMITH^JOHN")
    assert not Study.objects.filter(patient__patient_id="MRN-12345").exists()
    assert run_folder(tmp_path, deidentify_data=True).duplicates == 2, "UIDs map the same way every time"


def test_ingest_command_prints_a_summary(tmp_path, capsys):
    F.write_series(tmp_path, 2)
    F.write_not_dicom(tmp_path / "notes.txt")
    call_command("ingest", str(tmp_path), "--project", "spine", "--quiet")
    out = capsys.readouterr().out
    assert "3 files: 2 stored, 0 already stored (unchanged), 1 rejected" in out
    assert "[not_dicom]" in out
    assert Study.objects.get().projects.get().slug == "spine"


@pytest.fixture
def admin_client(db):
    client = APIClient()
    client.force_authenticate(ReaderFactory(role="admin", experience="senior").user)
    return client


def _zip(paths: list[Path]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in paths:
            archive.write(path, arcname=f"nested/{path.name}")
    buffer.seek(0)
    buffer.name = "study.zip"
    return buffer


def test_upload_files_and_zip_through_the_api(tmp_path, admin_client):
    project_create(name="Spine", slug="spine")
    F.write_series(tmp_path / "a", 2)
    F.write_series(tmp_path / "b", 3)
    F.write_not_dicom(tmp_path / "a" / "readme.txt")
    files = [(tmp_path / "a" / name).open("rb") for name in ("IM0000.dcm", "IM0001.dcm", "readme.txt")]
    response = admin_client.post(
        "/api/imaging/uploads/",
        {"files": [*files, _zip(sorted((tmp_path / "b").iterdir()))], "project": "spine"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["stored"], body["failed"], body["status"], body["progress"]) == (5, 1, "done", 1.0)
    assert body["errors"][0]["code"] == "not_dicom"
    job = admin_client.get(f"/api/imaging/ingest-jobs/{body['id']}/").json()
    assert job["stored"] == 5


def test_upload_refuses_readers_anonymous_and_empty_requests(tmp_path, admin_client):
    F.write_image(tmp_path / "x.dcm")
    reader = APIClient()
    reader.force_authenticate(ReaderFactory().user)
    with (tmp_path / "x.dcm").open("rb") as handle:
        assert (
            reader.post("/api/imaging/uploads/", {"files": [handle]}, format="multipart").status_code == 403
        )
    assert APIClient().post("/api/imaging/uploads/", {}, format="multipart").status_code == 401
    empty = admin_client.post("/api/imaging/uploads/", {}, format="multipart")
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "no_files"
    bad_zip = io.BytesIO(b"PK\x03\x04 this is not really a zip")
    bad_zip.name = "broken.zip"
    broken = admin_client.post("/api/imaging/uploads/", {"files": [bad_zip]}, format="multipart")
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "bad_zip"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_large_upload_is_ingested_by_a_worker_with_progress(tmp_path, settings, celery_worker_process):
    settings.INGEST_ASYNC_BYTES = 1  # every upload counts as large
    client = APIClient()
    client.force_authenticate(ReaderFactory(role="admin").user)
    F.write_series(tmp_path, 4)
    response = client.post(
        "/api/imaging/uploads/", {"files": [_zip(sorted(tmp_path.iterdir()))]}, format="multipart"
    )
    assert response.status_code == 202, response.content
    job_url = f"/api/imaging/ingest-jobs/{response.json()['id']}/"
    deadline = time.monotonic() + 60
    while (job := client.get(job_url).json())["status"] not in (
        "done",
        "failed",
    ) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert (job["status"], job["stored"], job["progress"]) == ("done", 4, 1.0)
    assert Instance.objects.count() == 4


def test_readers_see_only_their_projects_studies(tmp_path):
    mine, other = project_create(name="Mine", slug="mine"), project_create(name="Other", slug="other")
    reader = ReaderFactory()
    project_member_add(project=mine, user=reader.user)
    F.write_series(tmp_path / "m", 1, patient_id="M1")
    F.write_series(tmp_path / "o", 1, patient_id="O1")
    run_folder(tmp_path / "m", project=mine)
    run_folder(tmp_path / "o", project=other)
    client = APIClient()
    client.force_authenticate(reader.user)
    assert [s["patient_id"] for s in client.get("/api/imaging/studies/").json()] == ["M1"]


def test_a_batch_that_races_another_writer_falls_back_file_by_file(tmp_path):
    from backend.imaging.ingest import Ingester

    series = F.write_series(tmp_path, 3)
    paths = sorted(tmp_path.iterdir())

    class RacingIngester(Ingester):
        raced = False

        def _store(self, fresh, files):
            if not self.raced:  # another process stores the first file between our write and our insert
                self.raced = True
                assert instance_ingest(path=paths[0]).status == "stored"
            return super()._store(fresh, files)

    outcomes = list(RacingIngester().ingest([(p, p.name) for p in paths]))
    assert [o.status for o in outcomes] == ["duplicate", "stored", "stored"]
    assert Instance.objects.count() == 3
    folder = Path(Instance.objects.first().file.path).parent
    assert sorted(folder.iterdir()) == sorted(Path(i.file.path) for i in Instance.objects.all()), (
        "every stored file has its row, no stray copies"
    )
    assert {i.sop_uid for i in Instance.objects.all()} == {ds.SOPInstanceUID for ds in series}
