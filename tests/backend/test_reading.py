"""Reading: cases, the worklist, drafts with optimistic concurrency, submission, history, privacy."""

from datetime import date

import pytest
from rest_framework.test import APIClient

from backend.accounts.models import Experience, Role
from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning.models import ReferenceLabel
from backend.learning.services import reference_labels_update
from backend.projects.services import project_create, project_member_add
from backend.reading.models import AnnotationEvent, Assignment, Case, LevelAnnotation
from backend.reading.services import assignment_submit, case_reference_set_update, case_sync_for_project
from tests.backend import dicom_files as F
from tests.backend.concurrency import held_in_another_transaction
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db
LEVELS = ["C2-3", "C3-4", "C4-5", "C5-6", "C6-7", "C7-T1"]


@pytest.fixture
def project(tmp_path):
    project = project_create(name="Spine", slug="spine", blinded_share=0.0)
    for k in range(3):
        F.write_series(tmp_path / f"ct{k}", 1, patient_id=f"P{k}", study_date=date(2025, 1, 1))
        F.write_series(tmp_path / f"mr{k}", 1, patient_id=f"P{k}", modality="MR", study_date=date(2025, 1, 5))
    job = ingest_job_create(source=IngestJob.Source.FOLDER, project=project)
    ingest_job_run(job=job, paths=sorted(tmp_path.rglob("*.dcm")))
    assert project.cases.count() == 3, "ingestion makes a case of every CT/MR pair"
    return project


def reader_client(project, **kwargs):
    reader = ReaderFactory(**kwargs)
    project_member_add(project=project, user=reader.user)
    client = APIClient()
    client.force_authenticate(reader.user)
    return client, reader


def grade_all(client, case_id, grades=(0, 1, 2, 1, 0, 0)):
    for level, grade in zip(LEVELS, grades, strict=True):
        response = client.put(
            f"/api/reading/cases/{case_id}/levels/{level}/", {"grade": grade}, format="json"
        )
        assert response.status_code == 200, response.content


def test_case_sync_is_idempotent_and_blinds_a_share(project, tmp_path):
    assert case_sync_for_project(project=project) == []
    blinded = project_create(name="All blind", slug="blind", blinded_share=1.0)
    for study_pair in Case.objects.values_list("pair", flat=True):
        Case.objects.get(pair=study_pair, project=project).pair.ct_study.projects.add(blinded)
    assert all(case.blinded for case in case_sync_for_project(project=blinded))


def test_worklist_serves_by_priority_and_counts(project):
    client, _ = reader_client(project)
    ordered = list(Case.objects.order_by("-priority").values_list("pk", flat=True))
    worklist = client.get("/api/reading/worklist/").json()
    assert [c["id"] for c in worklist["cases"]] == ordered
    assert (worklist["done"], worklist["remaining"], worklist["next_case"]) == (0, 3, ordered[0])


def test_read_grade_submit_and_the_next_case_opens(project):
    client, reader = reader_client(project)
    first = client.get("/api/reading/worklist/").json()["next_case"]
    grade_all(client, first)
    response = client.post(f"/api/reading/cases/{first}/submit/", {"time_spent_s": 93.5}, format="json")
    assert response.status_code == 200
    assert response.json()["next_case"] not in (None, first)
    assignment = Assignment.objects.get(case_id=first, reader=reader.user)
    assert assignment.status == "submitted" and assignment.time_spent_s == 93.5
    assert sorted(assignment.levels.values_list("grade", flat=True)) == [0, 0, 0, 1, 1, 2]
    worklist = client.get("/api/reading/worklist/").json()
    assert (worklist["done"], worklist["remaining"]) == (1, 2)
    assert worklist["cases"][-1]["status"] == "submitted"
    again = client.put(f"/api/reading/cases/{first}/levels/C2-3/", {"grade": 3, "version": 1}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "submitted"


def test_submit_needs_every_level(project):
    client, _ = reader_client(project)
    case = Case.objects.first().pk
    client.put(f"/api/reading/cases/{case}/levels/C5-6/", {"grade": 2}, format="json")
    response = client.post(f"/api/reading/cases/{case}/submit/", {}, format="json")
    assert response.status_code == 409  # the request is fine; the reading is not complete yet
    assert response.json()["error"]["missing_levels"] == ["C2/3", "C3/4", "C4/5", "C6/7", "C7/T1"]


def test_a_stale_update_gets_409_and_overwrites_nothing(project):
    client, _ = reader_client(project)
    case = Case.objects.first().pk
    url = f"/api/reading/cases/{case}/levels/C4-5/"
    created = client.put(url, {"grade": 1}, format="json").json()
    assert created["version"] == 1
    assert client.put(url, {"grade": 2, "version": 1}, format="json").json()["version"] == 2
    stale = client.put(url, {"grade": 0, "version": 1}, format="json")  # another tab, still at version 1
    assert stale.status_code == 409
    assert stale.json()["error"]["current"]["grade"] == 2
    assert LevelAnnotation.objects.get(level="C4/5").grade == 2
    assert client.put(url, {"grade": 3}, format="json").status_code == 409, "an update must say its version"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"grade": 4}, "invalid_grade"),
        ({"grade": -1}, "invalid_grade"),
        ({"grade": "2"}, "invalid_grade"),
        ({"box": [10, 10, 5, 20]}, "invalid_box"),
        ({"box": [1, 2, 3]}, "invalid_box"),
        ({"box": ["a", 1, 2, 3]}, "invalid_box"),
    ],
)
def test_bad_grades_and_boxes_are_refused(project, payload, code):
    client, _ = reader_client(project)
    response = client.put(
        f"/api/reading/cases/{Case.objects.first().pk}/levels/C2-3/", payload, format="json"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert not LevelAnnotation.objects.exists()
    assert (
        client.put(
            f"/api/reading/cases/{Case.objects.first().pk}/levels/C9-9/", {"grade": 1}, format="json"
        ).json()["error"]["code"]
        == "invalid_level"
    )


def test_every_change_is_kept_for_audit(project):
    client, reader = reader_client(project)
    case = Case.objects.first().pk
    url = f"/api/reading/cases/{case}/levels/C5-6/"
    client.put(url, {"grade": 1, "box": [10, 20, 60, 44]}, format="json")
    client.put(url, {"grade": 2, "note": "cord flattened", "version": 1}, format="json")
    events = list(
        AnnotationEvent.objects.filter(annotation__level="C5/6").values("action", "before", "after", "user")
    )
    assert [e["action"] for e in events] == ["create", "update"]
    assert events[0]["before"] is None and events[0]["after"]["box"] == [10.0, 20.0, 60.0, 44.0]
    assert events[1]["before"]["grade"] == 1 and events[1]["after"]["grade"] == 2
    assert events[1]["after"]["note"] == "cord flattened" and events[1]["user"] == reader.user.pk


def test_readers_never_see_each_others_grades(project):
    first, _ = reader_client(project, experience="senior")
    second, _ = reader_client(project)
    case = Case.objects.first().pk
    grade_all(first, case, (3, 3, 3, 3, 3, 3))
    seen = second.get(f"/api/reading/cases/{case}/").json()
    assert seen["annotations"] == [] and seen["status"] == "new"
    own = first.get(f"/api/reading/cases/{case}/").json()
    assert [a["grade"] for a in own["annotations"]] == [3] * 6


def test_outsiders_and_blinded_cases(project):
    outsider = APIClient()
    outsider.force_authenticate(ReaderFactory().user)  # not a member of the project
    case = Case.objects.first()
    assert outsider.get(f"/api/reading/cases/{case.pk}/").status_code == 404
    assert outsider.get("/api/reading/worklist/").json()["cases"] == []
    assert APIClient().get("/api/reading/worklist/").status_code == 401
    member, _ = reader_client(project)
    case.blinded = True
    case.save()
    assert member.get(f"/api/reading/cases/{case.pk}/").json()["suggestions"] == {
        "blinded": True,
        "levels": [],
    }


def test_an_admin_chooses_the_reference_set_from_unread_cases(project):
    admin_client, _ = reader_client(project, role=Role.ADMIN, experience=Experience.SENIOR)
    url = "/api/learning/projects/spine/reference-set/"
    listed = admin_client.get(url).json()
    assert [c["in_reference_set"] for c in listed] == [True, False, False], "members first"
    member, outsider = listed[0]["id"], listed[1]["id"]

    moved_in = admin_client.put(f"{url}{outsider}/", {"in_reference_set": True}, format="json")
    moved_out = admin_client.put(f"{url}{member}/", {"in_reference_set": False}, format="json")
    assert moved_in.status_code == moved_out.status_code == 200, (moved_in.content, moved_out.content)
    assert moved_in.json() == {**listed[1], "in_reference_set": True}
    assert set(Case.objects.filter(in_reference_set=True).values_list("pk", flat=True)) == {outsider}
    client, _ = reader_client(project)
    assert client.get("/api/reading/worklist/").json()["next_case"] == outsider, (
        "the reference set is read first"
    )


def test_a_read_case_keeps_its_place_and_readers_cannot_change_the_reference_set(project):
    admin_client, _ = reader_client(project, role=Role.ADMIN, experience=Experience.SENIOR)
    client, _ = reader_client(project)
    url = "/api/learning/projects/spine/reference-set/"
    first = client.get("/api/reading/worklist/").json()["next_case"]
    grade_all(client, first)
    assert client.post(f"/api/reading/cases/{first}/submit/", {}, format="json").status_code == 200

    refused = admin_client.put(f"{url}{first}/", {"in_reference_set": False}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "case_read"
    assert Case.objects.get(pk=first).in_reference_set, "a read reference case stays frozen"
    unread = Case.objects.filter(in_reference_set=False).first()
    assert client.get(url).status_code == 403
    assert client.put(f"{url}{unread.pk}/", {"in_reference_set": True}, format="json").status_code == 403
    assert (
        admin_client.put(f"{url}{unread.pk}/", {"in_reference_set": "maybe"}, format="json").status_code
        == 400
    )
    assert admin_client.put(f"{url}999999/", {"in_reference_set": True}, format="json").status_code == 404
    assert not Case.objects.get(pk=unread.pk).in_reference_set


def test_an_admin_moves_many_cases_at_once_all_or_none(project):
    admin_client, _ = reader_client(project, role=Role.ADMIN, experience=Experience.SENIOR)
    client, _ = reader_client(project)
    url = "/api/learning/projects/spine/reference-set/"
    member, first_out, second_out = (c["id"] for c in admin_client.get(url).json())

    moved = admin_client.post(
        url, {"case_ids": [first_out, second_out], "in_reference_set": True}, format="json"
    )
    assert moved.status_code == 200, moved.content
    assert [(c["id"], c["in_reference_set"]) for c in moved.json()] == [(first_out, True), (second_out, True)]
    assert Case.objects.filter(in_reference_set=True).count() == 3

    read = client.get("/api/reading/worklist/").json()["next_case"]
    grade_all(client, read)
    assert client.post(f"/api/reading/cases/{read}/submit/", {}, format="json").status_code == 200
    everyone = {"case_ids": [member, first_out, second_out], "in_reference_set": False}
    refused = admin_client.post(url, everyone, format="json")
    assert refused.status_code == 409, refused.content
    assert refused.json()["error"]["code"] == "case_read" and refused.json()["error"]["case_ids"] == [read]
    assert Case.objects.filter(in_reference_set=True).count() == 3, "all or none: the unread stayed too"

    unknown = admin_client.post(
        url, {"case_ids": [first_out, 999999], "in_reference_set": False}, format="json"
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["case_ids"] == [999999]
    assert Case.objects.get(pk=first_out).in_reference_set
    for body in (
        {"case_ids": [], "in_reference_set": True},
        {"case_ids": ["x"], "in_reference_set": True},
        {"case_ids": list(range(1, 1002)), "in_reference_set": True},
    ):
        assert admin_client.post(url, body, format="json").status_code == 400
    assert (
        client.post(url, {"case_ids": [first_out], "in_reference_set": False}, format="json").status_code
        == 403
    )
    unread_ones = [case for case in (member, first_out, second_out) if case != read]
    back = admin_client.post(url, {"case_ids": unread_ones, "in_reference_set": False}, format="json")
    assert back.status_code == 200 and Case.objects.filter(in_reference_set=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_submission_waits_for_a_reference_set_change_in_flight(project):
    client, reader = reader_client(project)
    case = Case.objects.filter(in_reference_set=False).first()
    grade_all(client, case.pk)
    assignment = Assignment.objects.get(case=case, reader=reader.user)

    # an admin's case_reference_set_update, not yet committed
    with held_in_another_transaction(
        lambda: case_reference_set_update(case=case, in_reference_set=True), release_after_s=0.5
    ):
        assignment_submit(
            assignment=assignment, user=reader.user, notify_learning=False
        )  # waits for the move
        reference_labels_update(project=project)
    frozen = set(ReferenceLabel.objects.filter(case=case).values_list("frozen", flat=True))
    assert frozen == {True}, "labels of a case that joined the reference set are never trainable"
