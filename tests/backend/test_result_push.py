"""A case becomes final (a reference label at every level, nothing left to adjudicate) and its SRs are
queued for the PACS once; an unfinished case waits. The sending itself: tests/backend/test_orthanc.py."""

from datetime import date
from unittest import mock

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from backend.exports.models import ResultPush
from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning.services import project_labels_submitted
from backend.projects.services import project_create, project_member_add
from backend.reading.models import Case
from tests.backend import dicom_files as F
from tests.backend.factories import ReaderFactory
from tests.backend.test_reading import grade_all

pytestmark = pytest.mark.django_db(transaction=True)  # the push is queued on commit


@mock.patch("backend.exports.push.task_send")
@override_settings(RESULTS_DESTINATION="dimse://PACS@127.0.0.1:104")
def test_a_final_case_is_queued_for_the_pacs_once_and_an_unfinished_one_waits(queued, tmp_path):
    project = project_create(name="Final", slug="final", blinded_share=0.0, reference_share=0.0)
    for patient in ("F-1", "F-2"):
        F.write_series(tmp_path / patient / "ct", 2, patient_id=patient, study_date=date(2025, 1, 1))
        F.write_series(
            tmp_path / patient / "mr", 2, patient_id=patient, modality="MR", study_date=date(2025, 1, 2)
        )
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted(tmp_path.rglob("*.dcm")),
    )
    final, unfinished = Case.objects.filter(project=project).order_by("pk")
    reader = ReaderFactory()
    project_member_add(project=project, user=reader.user)
    client = APIClient()
    client.force_authenticate(reader.user)
    grade_all(client, final.pk)
    assert client.post(f"/api/reading/cases/{final.pk}/submit/", {}, format="json").status_code == 200
    client.put(f"/api/reading/cases/{unfinished.pk}/levels/C2-3/", {"grade": 1}, format="json")  # a draft

    project_labels_submitted(project=project, queue_training=False)
    [push] = ResultPush.objects.all()
    assert (push.case_id, push.trigger, push.status) == (final.pk, "finalised", "pending")
    assert push.destination == "dimse://PACS@127.0.0.1:104"
    assert queued.call_args.args == ("exports.result_push", push.pk)

    project_labels_submitted(project=project, queue_training=False)
    assert ResultPush.objects.count() == 1, "a case is sent once, not at every submission"
    with override_settings(RESULTS_DESTINATION=""):
        project_labels_submitted(project=project, queue_training=False)
    assert ResultPush.objects.count() == 1
