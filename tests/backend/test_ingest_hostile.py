"""Hostile uploads: UIDs that would name paths, over-long UIDs, zip bombs."""

import io
import os
import struct
import uuid
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from backend.imaging.dicom.files import uid_key
from backend.imaging.dicom.header import uid_valid
from backend.imaging.models import IngestJob, Instance
from tests.backend import dicom_files as F
from tests.backend.factories import ReaderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:.*VR UI:UserWarning")]


@pytest.fixture
def admin_client() -> APIClient:
    client = APIClient()
    client.force_authenticate(ReaderFactory(role="admin", experience="senior").user)
    return client


def zipped(paths: list[Path], *, compression: int = zipfile.ZIP_STORED) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for path in paths:
            archive.write(path, arcname=f"upload/{path.name}")
    buffer.seek(0)
    buffer.name = "upload.zip"
    return buffer


@pytest.mark.parametrize(
    "value",
    ["1.2.840.10008.1.2.1", "0", "0.1", "2.25.329800735698586629295641978511506172918", "1." + "2" * 62],
)
def test_uids_as_ps3_5_has_them_are_valid(value):
    assert uid_valid(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "1..2",
        ".1",
        "1.",
        "1.02",
        "01.2",
        "1.2.a",
        "1.2 ",
        "1.2\n",
        "../../x",
        "1\\2",
        "١.٢",
        "1." + "2" * 63,
    ],
)
def test_uids_outside_ps3_5_are_invalid(value):
    assert not uid_valid(value)


@pytest.fixture(params=["in_process", "worker_processes"])
def ingest_path(request, settings):
    if request.param == "worker_processes":
        settings.INGEST_PROCESSES, settings.INGEST_PROCESSES_MIN_FILES = 2, 1
    else:
        settings.INGEST_PROCESSES_MIN_FILES = 1_000_000
    return request.param


def test_uids_that_would_name_paths_are_rejected_alone_on_both_ingest_paths(
    tmp_path, admin_client, ingest_path
):
    escape = f"escaped-{uuid.uuid4().hex}"
    good = F.write_series(tmp_path / "in", 3)
    same_series = {"study_uid": good[0].StudyInstanceUID, "series_uid": good[0].SeriesInstanceUID}
    F.write_image(tmp_path / "in" / "sop.dcm", sop_uid=f"../../../../{escape}/pwn", instance=7, **same_series)
    F.write_image(
        tmp_path / "in" / "series.dcm", study_uid=good[0].StudyInstanceUID, series_uid=f"../../{escape}"
    )
    F.write_image(tmp_path / "in" / "study.dcm", study_uid=f"/tmp/{escape}")
    F.write_image(tmp_path / "in" / "overlong.dcm", sop_uid="1.2." + "3" * 80, instance=8, **same_series)
    F.write_image(tmp_path / "in" / "zeros.dcm", sop_uid="1.2.03", instance=9, **same_series)

    response = admin_client.post(
        "/api/imaging/uploads/", {"files": [zipped(sorted((tmp_path / "in").iterdir()))]}, format="multipart"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["stored"], body["failed"]) == ("done", 3, 5), body["errors"]
    assert {Path(e["file"]).name.split("-", 1)[1]: e["code"] for e in body["errors"]} == {
        name: "invalid_uid" for name in ("sop.dcm", "series.dcm", "study.dcm", "overlong.dcm", "zeros.dcm")
    }
    media = Path(settings.MEDIA_ROOT)
    assert not list(media.parent.rglob(f"*{escape}*")), "a file or folder was written outside the media root"
    assert not list(media.rglob(f"*{escape}*"))
    assert set(Instance.objects.values_list("sop_uid", flat=True)) == {ds.SOPInstanceUID for ds in good}
    study_folder = media / "dicom" / uid_key(good[0].StudyInstanceUID)
    assert {p for p in study_folder.rglob("*") if p.is_file()} == {
        Path(i.file.path) for i in Instance.objects.all()
    }, "a rejected file left a copy behind"
    assert not Path(IngestJob.objects.get(pk=body["id"]).staging_dir).exists()


def test_stored_files_are_named_by_digests_not_by_the_files_uids(tmp_path, admin_client, ingest_path):
    [ds] = F.write_series(tmp_path / "in", 1)
    response = admin_client.post(
        "/api/imaging/uploads/", {"files": [zipped([tmp_path / "in" / "IM0000.dcm"])]}, format="multipart"
    )
    assert response.status_code == 201 and response.json()["stored"] == 1, response.content
    instance = Instance.objects.get()
    parts = (uid_key(ds.StudyInstanceUID), uid_key(ds.SeriesInstanceUID), f"{uid_key(ds.SOPInstanceUID)}.dcm")
    assert Path(instance.file.name).parts == ("dicom", *parts)
    retrieved = admin_client.get(
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
    )
    assert retrieved.status_code == 200
    assert (tmp_path / "in" / "IM0000.dcm").read_bytes() in b"".join(retrieved.streaming_content)


def zip_of(members: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    buffer.seek(0)
    buffer.name = "bomb.zip"
    return buffer


def staged() -> set[Path]:
    return set((Path(settings.MEDIA_ROOT) / "staging").glob("*"))


def refused(client: APIClient, *zips: io.BytesIO) -> dict:
    before = staged()
    response = client.post("/api/imaging/uploads/", {"files": list(zips)}, format="multipart")
    assert staged() == before, "a refused upload left files in staging"
    assert IngestJob.objects.count() == 0
    return {"status": response.status_code, **response.json()["error"]}


def test_a_zip_expanding_past_the_size_cap_is_refused_with_413(admin_client, settings):
    settings.INGEST_ZIP_MAX_BYTES = 3 << 20
    error = refused(admin_client, zip_of({"a.dcm": os.urandom(2 << 20), "b.dcm": os.urandom(2 << 20)}))
    assert (error["status"], error["code"]) == (413, "zip_too_large")
    assert "bomb.zip" in error["message"] and "3.0\xa0MB" in error["message"]


def test_the_size_cap_holds_for_all_the_zips_of_one_upload(admin_client, settings):
    settings.INGEST_ZIP_MAX_BYTES = 300_000
    error = refused(admin_client, zip_of({"a.dcm": b"\1" * 200_000}), zip_of({"b.dcm": b"\2" * 200_000}))
    assert (error["status"], error["code"]) == (413, "zip_too_large")


def test_a_zip_bomb_is_refused_by_its_ratio_under_the_default_settings(admin_client):
    error = refused(admin_client, zip_of({"zeros.dcm": bytes(64 << 20)}))
    assert (error["status"], error["code"]) == (400, "zip_ratio")
    assert "compressed size" in error["message"]


def test_a_zip_of_too_many_files_is_refused(admin_client, settings):
    settings.INGEST_ZIP_MAX_MEMBERS = 3
    error = refused(admin_client, zip_of({f"{k}.dcm": b"x" for k in range(4)}))
    assert (error["status"], error["code"]) == (400, "zip_too_many_files")


def test_a_zip_whose_directory_understates_a_size_is_refused_as_unreadable(admin_client):
    archive = bytearray(zip_of({"a.dcm": bytes(2 << 20)}).getvalue())
    directory = archive.rfind(b"PK\x01\x02")
    struct.pack_into("<I", archive, 22, 10)  # the uncompressed size, in the local header
    struct.pack_into("<I", archive, directory + 24, 10)  # and in the central directory
    forged = io.BytesIO(bytes(archive))
    forged.name = "forged.zip"
    error = refused(admin_client, forged)
    assert (error["status"], error["code"]) == (400, "bad_zip")
