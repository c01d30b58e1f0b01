"""A pair edit never breaks the readers' views: a case keeps its MR study."""

from datetime import date

import pytest
from rest_framework.test import APIClient

from backend.imaging.models import IngestJob, StudyPair
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.projects.services import project_create, project_member_add
from tests.backend import dicom_files as F
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def project(tmp_path):
    project = project_create(name="Spine", slug="spine", blinded_share=0.0)
    for k in range(2):
        F.write_series(tmp_path / f"ct{k}", 2, patient_id=f"P{k}", study_date=date(2025, 1, 1))
        F.write_series(tmp_path / f"mr{k}", 2, patient_id=f"P{k}", modality="MR", study_date=date(2025, 1, 5))
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted(tmp_path.rglob("*.dcm")),
    )
    assert project.cases.count() == 2
    return project


@pytest.fixture
def admin(project):
    user = ReaderFactory(role="admin", experience="senior").user
    project_member_add(project=project, user=user)
    return client_of(user)


@pytest.fixture
def reader(project):
    user = ReaderFactory().user
    project_member_add(project=project, user=user)
    return client_of(user)


def test_unpairing_a_pair_that_is_a_case_is_refused_and_the_worklist_stays_whole(project, admin, reader):
    case = project.cases.select_related("pair__mr_study").first()
    mr_uid = case.pair.mr_study.study_uid

    response = admin.patch(f"/api/imaging/pairs/{case.pair_id}/", {"mr_study_uid": None}, format="json")

    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "pair_has_cases"
    assert StudyPair.objects.get(pk=case.pair_id).mr_study.study_uid == mr_uid
    worklist = reader.get("/api/reading/worklist/")
    assert worklist.status_code == 200 and len(worklist.json()["cases"]) == 2
    assert reader.get(f"/api/reading/cases/{case.pk}/").status_code == 200


def test_a_pair_that_is_no_case_can_be_unpaired(tmp_path, admin):
    F.write_series(tmp_path / "ct", 1, patient_id="LONE", study_date=date(2025, 2, 1))
    F.write_series(tmp_path / "mr", 1, patient_id="LONE", modality="MR", study_date=date(2025, 2, 2))
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=None),
        paths=sorted(tmp_path.rglob("*.dcm")),
    )
    pair = StudyPair.objects.get(patient__patient_id="LONE")

    response = admin.patch(f"/api/imaging/pairs/{pair.pk}/", {"mr_study_uid": None}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["mr_study_uid"] is None


def test_a_case_whose_pair_lost_its_mr_study_elsewhere_leaves_the_readers_views_working(project, reader):
    broken, whole = project.cases.order_by("pk")
    StudyPair.objects.filter(pk=broken.pair_id).update(mr_study=None)  # as the Django admin site could

    worklist = reader.get("/api/reading/worklist/")

    assert worklist.status_code == 200
    assert [c["id"] for c in worklist.json()["cases"]] == [whole.pk]
    assert reader.get(f"/api/reading/cases/{broken.pk}/").status_code == 404
    assert reader.get(f"/api/reading/cases/{whole.pk}/").status_code == 200
