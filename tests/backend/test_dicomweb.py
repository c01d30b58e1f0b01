"""DICOMweb: QIDO-RS, WADO-RS and STOW-RS, through the API and through dicomweb-client."""

import io
from datetime import date

import numpy as np
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from PIL import Image
from rest_framework.test import APIClient

from backend.accounts.services import user_token_get_or_create
from backend.imaging.dicom.multipart import MultipartError, boundary_of, multipart_stream, split_parts
from backend.imaging.models import IngestJob, Instance
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.projects.services import project_create, project_member_add
from tests.backend import dicom_files as F
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(tmp_path):
    """Two patients' CT series in two projects; a reader who belongs to the first only."""
    spine, other = project_create(name="Spine", slug="spine"), project_create(name="Other", slug="other")
    ct = F.write_series(
        tmp_path / "ct", 3, patient_id="P1", patient_name="ROE^ANN", study_date=date(2025, 2, 1)
    )
    mr = F.write_series(tmp_path / "mr", 2, patient_id="P1", modality="MR", study_date=date(2025, 2, 9))
    hidden = F.write_series(tmp_path / "hidden", 1, patient_id="P2", study_date=date(2024, 5, 5))
    for folder, project in (("ct", spine), ("mr", spine), ("hidden", other)):
        job = ingest_job_create(source=IngestJob.Source.FOLDER, project=project)
        ingest_job_run(job=job, paths=sorted((tmp_path / folder).iterdir()))
    reader = ReaderFactory()
    project_member_add(project=spine, user=reader.user)
    client = APIClient()
    client.force_authenticate(reader.user)
    return {
        "ct": ct,
        "mr": mr,
        "hidden": hidden,
        "client": client,
        "reader": reader,
        "tmp": tmp_path,
        "project": spine,
    }


def tag(item: dict, key: str):
    return item[key].get("Value", [None])[0]


def test_qido_searches_with_standard_keys(stored):
    client = stored["client"]
    studies = client.get("/dicomweb/studies").json()
    assert sorted(tag(s, "0020000D") for s in studies) == sorted(
        [stored["ct"][0].StudyInstanceUID, stored["mr"][0].StudyInstanceUID]
    ), "the hidden project's study is not listed"
    assert client.get("/dicomweb/studies").headers["Content-Type"] == "application/dicom+json"
    ct_only = client.get("/dicomweb/studies", {"ModalitiesInStudy": "CT"}).json()
    assert [tag(s, "00080061") for s in ct_only] == ["CT"]
    assert tag(ct_only[0], "00201208") == 3 and tag(ct_only[0], "00100010") == {"Alphabetic": "ROE^ANN"}
    assert len(client.get("/dicomweb/studies", {"StudyDate": "20250205-20250301"}).json()) == 1
    assert len(client.get("/dicomweb/studies", {"PatientID": "P*"}).json()) == 2
    assert client.get("/dicomweb/studies", {"PatientID": "Q*"}).json() == []
    assert len(client.get("/dicomweb/studies", {"limit": 1, "offset": 1}).json()) == 1

    study = stored["ct"][0].StudyInstanceUID
    series = client.get(f"/dicomweb/studies/{study}/series").json()
    assert tag(series[0], "0020000E") == stored["ct"][0].SeriesInstanceUID and tag(series[0], "00201209") == 3
    instances = client.get(f"/dicomweb/studies/{study}/series/{tag(series[0], '0020000E')}/instances").json()
    assert [tag(i, "00200013") for i in instances] == [1, 2, 3]


def test_wado_metadata_frames_rendered_and_instances(stored):
    client, ds = stored["client"], stored["ct"][1]
    base = (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
    )
    metadata = client.get(f"{base}/metadata").json()[0]
    assert tag(metadata, "00280010") == ds.Rows and tag(metadata, "00281052") == -1024
    assert "7FE00010" not in metadata or "Value" not in metadata["7FE00010"]

    frames = client.get(f"{base}/frames/1", HTTP_ACCEPT='multipart/related; type="application/octet-stream"')
    assert frames.status_code == 200 and frames["Content-Type"].startswith("multipart/related")
    boundary = boundary_of(frames["Content-Type"])
    parts = PartCollector()
    split_parts(io.BytesIO(frames.content), boundary, parts)
    assert parts.values() == [ds.PixelData]
    assert client.get(f"{base}/frames/2").status_code == 404

    rendered = client.get(f"{base}/rendered", HTTP_ACCEPT="image/png")
    assert rendered["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(rendered.content)).size == (ds.Columns, ds.Rows)
    # a window in HU: everything above centre + width / 2 is white, below centre - width / 2 black
    bone = client.get(f"{base}/rendered", {"window": "-2000,10"}, HTTP_ACCEPT="image/jpeg")
    assert bone["Content-Type"] == "image/jpeg"
    assert np.asarray(Image.open(io.BytesIO(bone.content))).min() > 240, "every pixel is above -1995 HU"
    refused = client.get(f"{base}/rendered", {"window": "wide"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_window"

    whole = client.get(
        f"/dicomweb/studies/{ds.StudyInstanceUID}", HTTP_ACCEPT='multipart/related; type="application/dicom"'
    )
    body = b"".join(whole.streaming_content)
    assert body.count(b"DICM") == 3


class PartCollector:
    """open_part for split_parts that keeps every part in memory."""

    class Part(io.BytesIO):
        def close(self) -> None:  # stays readable after split_parts closes it
            pass

    def __init__(self) -> None:
        self.parts: list[io.BytesIO] = []

    def __call__(self, headers: dict) -> io.BytesIO:
        self.parts.append(self.Part())
        return self.parts[-1]

    def values(self) -> list[bytes]:
        return [part.getvalue() for part in self.parts]


def test_other_projects_and_anonymous_requests_are_refused(stored):
    hidden = stored["hidden"][0]
    assert stored["client"].get(f"/dicomweb/studies/{hidden.StudyInstanceUID}/series").status_code == 404
    base = f"/dicomweb/studies/{hidden.StudyInstanceUID}/series/{hidden.SeriesInstanceUID}"
    assert stored["client"].get(f"{base}/instances/{hidden.SOPInstanceUID}/frames/1").status_code == 404
    assert APIClient().get("/dicomweb/studies").status_code == 401


def test_stow_rs_stores_and_reports_failures(stored, tmp_path):
    admin = APIClient()
    admin.force_authenticate(ReaderFactory(role="admin").user)
    good = F.write_image(tmp_path / "new.dcm", patient_id="P3")
    F.write_not_dicom(tmp_path / "junk.dcm")
    parts = [("application/dicom", [(tmp_path / name).read_bytes()]) for name in ("new.dcm", "junk.dcm")]
    body = b"".join(multipart_stream(parts, "XyZ"))
    response = admin.generic(
        "POST",
        "/dicomweb/studies?project=spine",
        body,
        content_type='multipart/related; type="application/dicom"; boundary=XyZ',
    )
    assert response.status_code == 202, response.content
    payload = response.json()
    assert tag(payload["00081199"]["Value"][0], "00081155") == good.SOPInstanceUID
    assert len(payload["00081198"]["Value"]) == 1
    assert Instance.objects.filter(sop_uid=good.SOPInstanceUID).exists()

    wrong_study = admin.generic(
        "POST",
        f"/dicomweb/studies/{stored['ct'][0].StudyInstanceUID}",
        b"".join(multipart_stream(parts[:1], "B")),
        content_type='multipart/related; type="application/dicom"; boundary=B',
    )
    assert wrong_study.status_code == 409
    reader = stored["client"].generic(
        "POST", "/dicomweb/studies", body, content_type="multipart/related; boundary=XyZ"
    )
    assert reader.status_code == 403
    not_multipart = admin.generic("POST", "/dicomweb/studies", b"{}", content_type="application/json")
    assert not_multipart.status_code == 415


def test_multipart_parser_handles_chunk_boundaries_and_truncation():
    payloads = [bytes(range(256)) * 700, b"\r\n--almost a boundary\r\n" * 10, b""]
    body = b"".join(multipart_stream((("application/dicom", [p]) for p in payloads), "bnd"))
    parts = PartCollector()
    assert split_parts(io.BytesIO(body), b"bnd", parts) == 3
    assert parts.values() == payloads
    with pytest.raises(MultipartError, match="ended before"):
        split_parts(io.BytesIO(body[: len(body) // 2]), b"bnd", PartCollector())


@pytest.mark.django_db(transaction=True)
def test_dicomweb_client_round_trip(live_server, tmp_path):
    project = project_create(name="Spine", slug="spine")
    admin = ReaderFactory(role="admin")
    project_member_add(project=project, user=admin.user)
    client = DICOMwebClient(
        url=f"{live_server.url}/dicomweb",
        headers={"Authorization": f"Token {user_token_get_or_create(user=admin.user)}"},
    )
    series = F.write_series(tmp_path, 3, patient_id="RT-1")
    client.store_instances([pydicom.dcmread(tmp_path / f"IM{k:04d}.dcm") for k in range(3)])
    found = client.search_for_studies(search_filters={"PatientID": "RT-1"})
    assert [tag(s, "0020000D") for s in found] == [series[0].StudyInstanceUID]
    metadata = client.retrieve_series_metadata(series[0].StudyInstanceUID, series[0].SeriesInstanceUID)
    assert sorted(tag(m, "00080018") for m in metadata) == sorted(ds.SOPInstanceUID for ds in series)
    frames = client.retrieve_instance_frames(
        series[0].StudyInstanceUID, series[0].SeriesInstanceUID, series[1].SOPInstanceUID, frame_numbers=[1]
    )
    pixels = np.frombuffer(frames[0], dtype=np.uint16).reshape(32, 32)
    assert np.array_equal(pixels, series[1].pixel_array)
    instance = client.retrieve_instance(
        series[0].StudyInstanceUID, series[0].SeriesInstanceUID, series[2].SOPInstanceUID
    )
    assert instance.SOPInstanceUID == series[2].SOPInstanceUID


def test_an_instance_is_fetched_once_then_revalidated_for_a_304(stored, monkeypatch):
    client, ds = stored["client"], stored["ct"][1]
    series = f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
    base = f"{series}/instances/{ds.SOPInstanceUID}"
    for url in (f"{base}/frames/1", f"{base}/rendered", f"{base}/metadata", f"{series}/metadata"):
        first = client.get(url)
        assert first.status_code == 200, url
        etag = first["ETag"]
        policy = "private, no-cache" if url.endswith(f"{series}/metadata") else "immutable"
        assert "private" in first["Cache-Control"] and policy in first["Cache-Control"], url
        monkeypatch.setattr(pydicom, "dcmread", lambda *a, **k: pytest.fail("the file was read again"))
        again = client.get(url, HTTP_IF_NONE_MATCH=etag)
        assert again.status_code == 304 and again["ETag"] == etag and not again.content, url
        monkeypatch.undo()
    assert (
        client.get(f"{base}/rendered", {"window": "40,400"})["ETag"] != client.get(f"{base}/rendered")["ETag"]
    )

    # a series may gain an instance: its metadata's ETag changes, so a revalidation gets the new list
    before = client.get(f"{series}/metadata")["ETag"]
    extra = F.write_image(
        stored["tmp"] / "extra.dcm",
        patient_id=ds.PatientID,
        study_uid=ds.StudyInstanceUID,
        series_uid=ds.SeriesInstanceUID,
        instance=9,
        z=-30.0,
    )
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=stored["project"]),
        paths=[stored["tmp"] / "extra.dcm"],
    )
    changed = client.get(f"{series}/metadata", HTTP_IF_NONE_MATCH=before)
    assert changed.status_code == 200 and changed["ETag"] != before and len(changed.json()) == 4
    assert extra.SOPInstanceUID in changed.content.decode()

    # the header is read from disk once; the cache answers the next request for it
    from django.core.cache import cache

    cache.clear()
    assert client.get(f"{series}/metadata").status_code == 200
    monkeypatch.setattr(pydicom, "dcmread", lambda *a, **k: pytest.fail("metadata read from disk again"))
    assert client.get(f"{series}/metadata").status_code == 200
    monkeypatch.undo()

    # someone without access gets no 304 either: the permission check comes first
    other = APIClient()
    other.force_authenticate(ReaderFactory().user)
    assert other.get(f"{base}/frames/1", HTTP_IF_NONE_MATCH=etag).status_code == 404
