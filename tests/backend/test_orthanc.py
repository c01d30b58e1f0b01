"""The platform beside a real PACS: Orthanc (Debian's package) sends to our SCP, receives our SRs by
C-STORE and STOW-RS, answers our C-FIND and C-GET, and pulls one of our studies over our DICOMweb.

REQUIRE_ORTHANC=1 (CI) fails instead of skipping when Orthanc is not installed
(apt-get install orthanc orthanc-dicomweb).
"""

import io
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from datetime import date
from pathlib import Path
from unittest import mock

import pydicom
import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from backend.accounts.models import Role
from backend.accounts.services import user_token_get_or_create
from backend.exports.models import ResultPush
from backend.exports.tasks import result_push
from backend.imaging.models import IngestJob, Instance
from backend.imaging.retrieve import pacs_retrieve_run
from backend.imaging.scp import ScpConfig, StoreScp
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.projects.services import project_create, project_member_add
from backend.reading.models import Case
from tests.backend import dicom_files as F
from tests.backend.factories import ReaderFactory
from tests.backend.test_reading import grade_all

pytestmark = pytest.mark.django_db(transaction=True)  # the SCP's threads and the live server

ORTHANC = shutil.which("Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Orthanc:
    def __init__(self, http_port: int, dicom_port: int) -> None:
        self.url, self.dicom_port = f"http://127.0.0.1:{http_port}", dicom_port
        self.peer = f"dimse://ORTHANC@127.0.0.1:{dicom_port}"

    def call(self, method: str, path: str, body=None, *, raw: bytes | None = None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            content = response.read()
        return json.loads(content) if content[:1] in (b"{", b"[") else content

    def upload(self, paths) -> list[str]:
        return [self.call("POST", "/instances", raw=Path(p).read_bytes())["ID"] for p in paths]

    def instance_of(self, sop_uid: str) -> str | None:
        found = self.call("POST", "/tools/find", {"Level": "Instance", "Query": {"SOPInstanceUID": sop_uid}})
        return found[0] if found else None


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    if not ORTHANC or not DICOMWEB_PLUGIN.is_file():
        if os.environ.get("REQUIRE_ORTHANC", "") not in ("", "0"):
            pytest.fail("REQUIRE_ORTHANC=1 but Orthanc is missing (apt-get install orthanc orthanc-dicomweb)")
        pytest.skip("Orthanc is not installed")
    folder = tmp_path_factory.mktemp("orthanc")
    http_port, dicom_port = _free_port(), _free_port()
    config = {
        "Name": "test-pacs",
        "StorageDirectory": str(folder / "db"),
        "IndexDirectory": str(folder / "db"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": "ORTHANC",
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": False,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "DicomAlwaysAllowGet": True,
        "DicomAlwaysAllowMove": True,
        "Plugins": [str(DICOMWEB_PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = (folder / "orthanc.log").open("w")
    process = subprocess.Popen([ORTHANC, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    server = Orthanc(http_port, dicom_port)
    deadline = time.monotonic() + 30
    while True:
        try:
            server.call("GET", "/system")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"Orthanc did not start:\n{(folder / 'orthanc.log').read_text()}")
            time.sleep(0.2)
    yield server
    process.terminate()
    process.wait(20)


@pytest.fixture
def project():
    return project_create(name="Pacs", slug="pacs", blinded_share=0.0, reference_share=0.0)


def _admin(project) -> tuple[APIClient, object]:
    admin = ReaderFactory(role=Role.ADMIN)
    project_member_add(project=project, user=admin.user, role=Role.ADMIN)
    client = APIClient()
    client.force_authenticate(admin.user)
    return client, admin.user


def _pair(folder: Path, patient: str, *, accession: str = "ACC1") -> list[Path]:
    F.write_series(folder / "ct", 3, patient_id=patient, study_date=date(2025, 1, 1))
    F.write_series(folder / "mr", 3, patient_id=patient, modality="MR", study_date=date(2025, 1, 4))
    for path in (folder / "ct").glob("*.dcm"):  # each study its own accession number
        ds = pydicom.dcmread(path)
        ds.AccessionNumber = accession
        ds.save_as(path)
    return sorted(folder.rglob("*.dcm"))


def test_orthanc_sends_two_patients_to_our_scp_and_every_instance_is_stored(orthanc, project, tmp_path):
    scp = StoreScp(
        project=project,
        config=ScpConfig(ae_title="SPINE", host="127.0.0.1", port=_free_port(), allowed_aes=[]),
    )
    scp.start()
    try:
        files = _pair(tmp_path / "p1", "ORT-1") + _pair(tmp_path / "p2", "ORT-2", accession="ACC2")
        ids = orthanc.upload(files)
        orthanc.call(
            "PUT", "/modalities/spine", {"AET": "SPINE", "Host": "127.0.0.1", "Port": scp.config.port}
        )
        assert orthanc.call("POST", "/modalities/spine/echo", {}) is not None
        orthanc.call("POST", "/modalities/spine/store", {"Resources": ids, "Synchronous": True})
        deadline = time.monotonic() + 60
        while not scp.jobs and time.monotonic() < deadline:
            time.sleep(0.2)
        job = IngestJob.objects.get(pk=scp.jobs[0])
    finally:
        scp.stop()
    assert (job.source, job.status, job.stored, job.failed) == ("dimse", "done", 12, 0)
    sent = {pydicom.dcmread(p).SOPInstanceUID for p in files}
    assert set(Instance.objects.values_list("sop_uid", flat=True)) == sent
    assert Case.objects.filter(project=project).count() == 2


def _read_case(project, tmp_path) -> Case:
    job = ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project), paths=_pair(tmp_path, "SR-1")
    )
    assert job.stored == 6
    case = Case.objects.get(project=project)
    reader = ReaderFactory()
    project_member_add(project=project, user=reader.user)
    client = APIClient()
    client.force_authenticate(reader.user)
    grade_all(client, case.pk)
    assert client.post(f"/api/reading/cases/{case.pk}/submit/", {}, format="json").status_code == 200
    return case


def _push(admin: APIClient, case: Case, queued: mock.Mock) -> ResultPush:
    queued.reset_mock()
    response = admin.post(f"/api/exports/cases/{case.pk}/push/")
    assert response.status_code == 202, response.content
    [push] = response.json()
    assert queued.call_args.args == ("exports.result_push", push["id"])
    result_push.apply(args=[push["id"]])  # the worker's task, run here: retries included
    return ResultPush.objects.get(pk=push["id"])


@mock.patch("backend.exports.push.task_send")
def test_a_cases_sr_reaches_orthanc_by_cstore_and_stowrs_and_a_failed_push_is_sent_again(
    queued, orthanc, project, tmp_path
):
    case = _read_case(project, tmp_path)
    admin, _ = _admin(project)
    with override_settings(RESULTS_DESTINATION=""):
        assert admin.post(f"/api/exports/cases/{case.pk}/push/").json()["error"]["code"] == "no_destination"

    down = f"dimse://ORTHANC@127.0.0.1:{_free_port()}"  # nothing listens there
    with override_settings(RESULTS_DESTINATION=down, RESULTS_PUSH_RETRIES=2, RESULTS_PUSH_BACKOFF_S=0):
        failed = _push(admin, case, queued)
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert "association refused or no answer" in failed.last_error
    assert orthanc.instance_of(failed.sop_uid) is None

    with override_settings(RESULTS_DESTINATION=orthanc.peer):
        sent = _push(admin, case, queued)
    assert (sent.status, sent.attempts, sent.sop_uid) == ("sent", 1, failed.sop_uid)
    stored = orthanc.instance_of(sent.sop_uid)
    assert stored is not None, "the SR is in the PACS"
    report = pydicom.dcmread(io.BytesIO(orthanc.call("GET", f"/instances/{stored}/file")), force=True)
    assert report.Modality == "SR" and report.StudyInstanceUID == case.pair.ct_study.study_uid

    orthanc.call("DELETE", f"/instances/{stored}")
    with override_settings(RESULTS_DESTINATION=f"{orthanc.url}/dicom-web"):
        by_stow = _push(admin, case, queued)
    assert by_stow.status == "sent" and orthanc.instance_of(by_stow.sop_uid) is not None

    listed = admin.get("/api/exports/projects/pacs/pushes/").json()
    assert [p["status"] for p in listed] == ["sent", "sent", "failed"]
    assert admin.get("/api/exports/projects/pacs/pushes/?status=failed").json()[0]["attempts"] == 3


@mock.patch("backend.imaging.retrieve.task_send")
def test_a_study_found_by_accession_number_is_pulled_from_orthanc_intact(queued, orthanc, project, tmp_path):
    files = _pair(tmp_path, "PULL-1", accession="ACC-PULL-7")
    orthanc.upload(files)
    admin, _ = _admin(project)
    assert (
        admin.post(
            "/api/imaging/retrieve/", {"project": "pacs", "by": "patient_id", "value": "A*"}, format="json"
        ).status_code
        == 400
    )
    with override_settings(PACS_PEER=""):
        answer = admin.post(
            "/api/imaging/retrieve/",
            {"project": "pacs", "by": "accession_number", "value": "X"},
            format="json",
        )
        assert (answer.status_code, answer.json()["error"]["code"]) == (409, "no_pacs")

    with override_settings(PACS_PEER=orthanc.peer):
        response = admin.post(
            "/api/imaging/retrieve/",
            {"project": "pacs", "by": "accession_number", "value": "ACC-PULL-7"},
            format="json",
        )
        assert response.status_code == 202, response.content
        job_id = response.json()["id"]
        assert queued.call_args.args == ("imaging.pacs_retrieve", job_id)
        job = pacs_retrieve_run(job_id=job_id)
        missing = admin.post(
            "/api/imaging/retrieve/",
            {"project": "pacs", "by": "accession_number", "value": "NO-SUCH"},
            format="json",
        ).json()["id"]
        not_found = pacs_retrieve_run(job_id=missing)

    assert (job.status, job.stored, job.failed) == ("done", 3, 0), job.errors  # the CT study of ACC-PULL-7
    ct = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p) for p in files if "/ct/" in str(p)}
    for instance in Instance.objects.all():
        pulled = pydicom.dcmread(instance.file.path)
        assert pulled.PixelData == ct[instance.sop_uid].PixelData
    assert set(Instance.objects.values_list("sop_uid", flat=True)) == set(ct)
    assert not_found.status == "failed" and "No study on the PACS" in not_found.errors[-1]["message"]
    assert (
        admin.get(f"/api/imaging/ingest-jobs/{job_id}/").json()["query"]["accession_number"] == "ACC-PULL-7"
    )


def test_orthanc_pulls_one_of_our_studies_over_our_dicomweb_intact(orthanc, project, live_server, tmp_path):
    files = _pair(tmp_path, "WEB-1", accession="ACC-WEB-1")
    ingest_job_run(job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project), paths=files)
    _, admin = _admin(project)
    token = user_token_get_or_create(user=admin)
    orthanc.call(
        "PUT",
        "/dicom-web/servers/spine",
        {"Url": f"{live_server.url}/dicomweb/", "HttpHeaders": {"Authorization": f"Token {token}"}},
    )
    ct = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p) for p in files if "/ct/" in str(p)}
    study_uid = next(iter(ct.values())).StudyInstanceUID
    orthanc.call("POST", "/dicom-web/servers/spine/retrieve", {"Resources": [{"Study": study_uid}]})
    for sop_uid, original in ct.items():
        stored = orthanc.instance_of(sop_uid)
        assert stored is not None, f"{sop_uid} did not reach Orthanc"
        copy = pydicom.dcmread(io.BytesIO(orthanc.call("GET", f"/instances/{stored}/file")))
        assert copy.PixelData == original.PixelData
