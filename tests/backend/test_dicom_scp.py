"""The DICOM C-STORE SCP, driven by a real pynetdicom SCU over a loopback socket."""

import socket
import time
from datetime import date

import pydicom
import pytest
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage, MRImageStorage, Verification

from backend.imaging.models import IngestJob, Instance
from backend.imaging.scp import CANNOT_UNDERSTAND, ScpConfig, StoreScp
from backend.projects.services import project_create
from backend.reading.models import Case
from tests.backend import dicom_files as F

pytestmark = pytest.mark.django_db(transaction=True)  # the SCP's threads have their own connections


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def scp():
    project = project_create(name="Pacs", slug="pacs", blinded_share=0.0, reference_share=0.0)
    server = StoreScp(
        project=project,
        config=ScpConfig(ae_title="SPINE", host="127.0.0.1", port=_free_port(), allowed_aes=[]),
    )
    server.start()
    yield server
    server.stop()


def _send(server: StoreScp, paths, *, calling: str = "MODALITY") -> tuple[int | None, list]:
    """C-ECHO, then a C-STORE per file in one association; (echo status, [(status, comment)])."""
    ae = AE(ae_title=calling)
    for context in (CTImageStorage, MRImageStorage, Verification):
        ae.add_requested_context(context)
    assoc = ae.associate("127.0.0.1", server.config.port, ae_title="SPINE")
    if not assoc.is_established:
        return None, []
    echo = assoc.send_c_echo().Status
    replies = []
    for path in paths:
        reply = assoc.send_c_store(pydicom.dcmread(path))
        replies.append((reply.Status, str(reply.get("ErrorComment", ""))))
    assoc.release()
    return echo, replies


def _job_after(server: StoreScp, count: int) -> IngestJob:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(server.jobs) >= count:
            return IngestJob.objects.get(pk=server.jobs[count - 1])
        time.sleep(0.1)
    raise AssertionError("the association's ingest job did not finish")


def test_a_modality_sends_a_study_pair_and_what_cannot_be_used_gets_a_failure_status(scp, tmp_path):
    F.write_series(tmp_path / "ct", 2, patient_id="P1", study_date=date(2025, 1, 1))
    F.write_series(tmp_path / "mr", 2, patient_id="P1", modality="MR", study_date=date(2025, 1, 5))
    F.write_other_modality(tmp_path / "us" / "us.dcm")
    good = sorted((tmp_path / "ct").glob("*.dcm")) + sorted((tmp_path / "mr").glob("*.dcm"))

    echo, replies = _send(scp, [*good, tmp_path / "us" / "us.dcm"])
    assert echo == 0x0000
    assert [status for status, _ in replies[:4]] == [0x0000] * 4
    status, comment = replies[4]
    assert status == CANNOT_UNDERSTAND and "unsupported_modality" in comment, "refused, with the reason"

    job = _job_after(scp, 1)
    assert (job.source, job.status, job.stored, job.failed) == ("dimse", "done", 4, 0)
    assert Instance.objects.count() == 4
    assert Case.objects.filter(project__slug="pacs").count() == 1, "paired into a case, as an upload is"

    echo, replies = _send(scp, good)  # the PACS sends it again
    assert [status for status, _ in replies] == [0x0000] * 4
    again = _job_after(scp, 2)
    assert (again.stored, again.duplicates) == (0, 4) and Instance.objects.count() == 4


def test_only_the_allowed_calling_aes_may_send(tmp_path):
    project = project_create(name="Pacs", slug="pacs", blinded_share=0.0, reference_share=0.0)
    server = StoreScp(
        project=project,
        config=ScpConfig(ae_title="SPINE", host="127.0.0.1", port=_free_port(), allowed_aes=["ORTHANC"]),
    )
    server.start()
    try:
        F.write_series(tmp_path / "ct", 1, patient_id="P1")
        files = sorted((tmp_path / "ct").glob("*.dcm"))
        assert _send(server, files, calling="INTRUDER") == (None, []), "association rejected"
        echo, replies = _send(server, files, calling="ORTHANC")
        assert echo == 0x0000 and replies == [(0x0000, "")]
    finally:
        server.stop()
