"""Reader allocation per project: every case to every reader (the default) or dealt round-robin."""

from collections import Counter

import pytest
from rest_framework.test import APIClient

from backend.common.exceptions import ApplicationError
from backend.common.levels import LEVELS
from backend.imaging.models import Patient, Study, StudyPair
from backend.learning.models import AdjudicationItem
from backend.learning.services import reference_labels_update
from backend.projects.models import AuditEntry
from backend.projects.services import project_create, project_member_add, project_member_remove
from backend.reading.allocation import case_allocations_deal, project_allocation_set
from backend.reading.models import Case, CaseAllocation
from backend.reading.selectors import project_allocation_summary
from backend.reading.services import assignment_open, assignment_submit, level_annotation_save
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db

SLUG = "alloc"
URL = f"/api/reading/projects/{SLUG}/allocation/"


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def project():
    project = project_create(name="Allocation", slug=SLUG, reference_share=0.0, blinded_share=0.0)
    for k in range(6):
        patient = Patient.objects.create(patient_id=f"P{k}")
        ct = Study.objects.create(study_uid=f"1.2.{k}.1", patient=patient, modality="CT")
        mr = Study.objects.create(study_uid=f"1.2.{k}.2", patient=patient, modality="MR")
        Case.objects.create(
            project=project, pair=StudyPair.objects.create(patient=patient, ct_study=ct, mr_study=mr)
        )
    return project


def _readers(project, n: int, **kwargs) -> list:
    users = [ReaderFactory(**kwargs).user for _ in range(n)]
    for user in users:
        project_member_add(project=project, user=user)
    return users


def _worklist(user) -> set[int]:
    return {case["id"] for case in _client(user).get("/api/reading/worklist/").json()["cases"]}


def _holders(project) -> dict[int, set[int]]:
    held: dict[int, set[int]] = {case.pk: set() for case in project.cases.all()}
    for case_id, reader_id in CaseAllocation.objects.filter(case__project=project).values_list(
        "case_id", "reader_id"
    ):
        held[case_id].add(reader_id)
    return held


def _read(case, user, grade: int) -> None:
    assignment = assignment_open(case=case, reader=user)
    for level in LEVELS:
        level_annotation_save(assignment=assignment, level=level, user=user, version=None, grade=grade)
    assignment_submit(assignment=assignment, user=user, notify_learning=False)


def test_by_default_every_reader_reads_every_case(project):
    readers = _readers(project, 3)
    assert not CaseAllocation.objects.exists()
    for user in readers:
        assert _worklist(user) == set(project.cases.values_list("pk", flat=True))


def test_round_robin_with_two_reads_per_case_deals_each_case_to_exactly_two_readers(project):
    readers = _readers(project, 3)
    admin = ReaderFactory().user
    project_member_add(project=project, user=admin, role="admin")

    response = _client(admin).put(URL, {"allocation": "round_robin", "reads_per_case": 2}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["undealt_reads"] == 0 and sorted(r["cases"] for r in body["readers"]) == [4, 4, 4]
    held = _holders(project)
    assert all(len(holders) == 2 for holders in held.values())
    assert set().union(*held.values()) == {u.pk for u in readers}, "admins are not dealt cases"
    for user in readers:
        mine = {case_id for case_id, holders in held.items() if user.pk in holders}
        assert _worklist(user) == mine and len(mine) == 4
        other = next(case_id for case_id, holders in held.items() if user.pk not in holders)
        assert _client(user).get(f"/api/reading/cases/{other}/").status_code == 404
        with pytest.raises(ApplicationError) as caught:
            assignment_open(case=Case.objects.get(pk=other), reader=user)
        assert caught.value.code == "not_dealt"
    assert _client(admin).get("/api/reading/worklist/").json()["cases"] == []
    entry = AuditEntry.objects.get(project=project, action="allocation.set")
    assert entry.actor == admin and entry.details["to"]["allocation"] == "round_robin"


def test_a_cap_per_reader_leaves_the_rest_undealt(project):
    readers = _readers(project, 3)
    project = project_allocation_set(
        project=project, allocation="round_robin", reads_per_case=2, reader_case_cap=2
    )
    load = Counter(CaseAllocation.objects.values_list("reader_id", flat=True))
    assert load == {user.pk: 2 for user in readers}
    assert all(len(holders) <= 2 for holders in _holders(project).values())
    assert project_allocation_summary(project=project)["undealt_reads"] == 12 - 6


def test_readers_keep_what_they_opened_and_the_rest_is_dealt_again_when_readers_change(project):
    first, second = _readers(project, 2)
    project_allocation_set(project=project, allocation="round_robin", reads_per_case=1)
    opened = next(iter(_worklist(first)))
    assignment_open(case=Case.objects.get(pk=opened), reader=first)

    (third,) = _readers(project, 1)
    assert Counter(CaseAllocation.objects.values_list("reader_id", flat=True)) == {
        first.pk: 2,
        second.pk: 2,
        third.pk: 2,
    }
    assert opened in _worklist(first)

    project_member_remove(membership=project.memberships.get(user=second))
    assert not CaseAllocation.objects.filter(reader=second).exists()
    assert all(len(holders) == 1 for holders in _holders(project).values())
    assert _worklist(first) | _worklist(third) == set(project.cases.values_list("pk", flat=True))


def test_new_cases_are_dealt_as_they_come(project):
    _readers(project, 2)
    project_allocation_set(project=project, allocation="round_robin", reads_per_case=1)
    patient = Patient.objects.create(patient_id="P9")
    ct = Study.objects.create(study_uid="1.2.9.1", patient=patient, modality="CT")
    mr = Study.objects.create(study_uid="1.2.9.2", patient=patient, modality="MR")
    case = Case.objects.create(
        project=project, pair=StudyPair.objects.create(patient=patient, ct_study=ct, mr_study=mr)
    )
    assert case_allocations_deal(project=project) == 1
    assert CaseAllocation.objects.filter(case=case).count() == 1


def test_juniors_who_disagree_get_a_senior_who_reads_then_adjudicates(project):
    juniors = _readers(project, 2)
    (senior,) = _readers(project, 1, experience="senior")
    project_allocation_set(project=project, allocation="round_robin", reads_per_case=2)
    case_id = next(c for c, holders in _holders(project).items() if holders == {u.pk for u in juniors})
    case = Case.objects.get(pk=case_id)
    assert case_id not in _worklist(senior)

    _read(case, juniors[0], 0)
    _read(case, juniors[1], 3)
    reference_labels_update(project=project)

    assert case_id in _worklist(senior), "dealt to the senior to adjudicate"
    assert CaseAllocation.objects.get(case=case, reader=senior).for_adjudication
    client = _client(senior)
    assert client.get(f"/api/learning/projects/{SLUG}/adjudications/").json() == [], "not before reading it"
    _read(case, senior, 2)
    items = client.get(f"/api/learning/projects/{SLUG}/adjudications/").json()
    assert {item["case"] for item in items} == {case_id}
    resolved = client.post(
        f"/api/learning/projects/{SLUG}/adjudications/{items[0]['id']}/resolve/", {"grade": 2}, format="json"
    )
    assert resolved.status_code == 200
    assert AdjudicationItem.objects.filter(case=case, status="resolved").count() == 1


def test_only_the_projects_admins_set_its_allocation(project):
    (reader,) = _readers(project, 1)
    outsider = ReaderFactory().user
    project_member_add(project=project_create(name="Else", slug="else"), user=outsider, role="admin")
    admin = ReaderFactory().user
    project_member_add(project=project, user=admin, role="admin")
    body = {"allocation": "round_robin"}
    assert _client(reader).put(URL, body, format="json").status_code == 403
    assert _client(outsider).put(URL, body, format="json").status_code == 404
    assert _client(admin).get(URL).json()["allocation"] == "all"
    bad = _client(admin).put(URL, {"allocation": "round_robin", "reads_per_case": 0}, format="json")
    assert bad.status_code == 400
    project.refresh_from_db()
    assert project.allocation == "all"
