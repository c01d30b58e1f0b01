"""The adjudication queue: who sees which item and which grades, and when readers' disagreements open one."""

import pytest
from rest_framework.test import APIClient

from backend.common.levels import LEVELS
from backend.imaging.models import Patient, Study, StudyPair
from backend.learning.models import AdjudicationItem, LevelPrediction, ModelVersion, ReferenceLabel
from backend.learning.services import adjudication_resolve, reference_labels_update
from backend.projects.services import project_create, project_member_add
from backend.reading.models import Case
from backend.reading.services import assignment_open, assignment_submit, level_annotation_save
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db

SLUG = "adj"
LIST = f"/api/learning/projects/{SLUG}/adjudications/"


def _case(project, k: int, *, blinded: bool = False) -> Case:
    patient = Patient.objects.create(patient_id=f"P{k}")
    ct = Study.objects.create(study_uid=f"1.2.{k}.1", patient=patient, modality="CT")
    mr = Study.objects.create(study_uid=f"1.2.{k}.2", patient=patient, modality="MR")
    pair = StudyPair.objects.create(patient=patient, ct_study=ct, mr_study=mr)
    return Case.objects.create(project=project, pair=pair, blinded=blinded)


def _member(project, **kwargs):
    profile = ReaderFactory(**kwargs)
    project_member_add(project=project, user=profile.user)
    return profile


def _read(case, profile, grades: dict[str, int] | int) -> None:
    assignment = assignment_open(case=case, reader=profile.user)
    for level in LEVELS:
        grade = grades if isinstance(grades, int) else grades[level]
        level_annotation_save(
            assignment=assignment, level=level, user=profile.user, version=None, grade=grade
        )
    assignment_submit(assignment=assignment, user=profile.user, notify_learning=False)


def _champion(project, cases, grade: int) -> ModelVersion:
    version = ModelVersion.objects.create(project=project, number=1, status=ModelVersion.Status.CHAMPION)
    LevelPrediction.objects.bulk_create(
        LevelPrediction(
            model_version=version,
            study_id=case.pair.ct_study_id,
            level=level,
            box=[1, 1, 2, 2],
            box_score=0.9,
            probabilities=[0.25] * 4,
            grade=grade,
            binary_probability=0.5,
            entropy=1.0,
        )
        for case in cases
        for level in LEVELS
    )
    return version


def _client(profile) -> APIClient:
    client = APIClient()
    client.force_authenticate(profile.user)
    return client


@pytest.fixture
def project():
    return project_create(name="Adjudication", slug=SLUG, reference_share=0.0)


def test_a_senior_sees_and_resolves_only_items_on_cases_they_read_and_never_a_blinded_cases_model_grade(
    project,
):
    shown, blinded, unread = _case(project, 1), _case(project, 2, blinded=True), _case(project, 3)
    version = _champion(project, [shown, blinded, unread], grade=3)
    senior, other_senior = _member(project, experience="senior"), _member(project, experience="senior")
    admin = _member(project, experience="junior", role="admin")
    for case in (shown, blinded):
        _read(case, senior, 0)
    _read(unread, other_senior, 0)
    reference_labels_update(project=project)
    assert AdjudicationItem.objects.filter(reason="model_senior_disagree").count() == 18

    items = _client(senior).get(LIST).json()
    assert {i["case"] for i in items} == {shown.pk, blinded.pk}, "not the case the senior has not read"
    for item in items:
        expected = {senior.user.username: 0} | ({} if item["case"] == blinded.pk else {version.label: 3})
        assert item["grades"] == expected, "the model's grade stays hidden on a blinded case"
        hidden = item["case"] == blinded.pk
        assert (item["model_grade"], item["model_version"]) == (
            (None, None) if hidden else (3, version.label)
        )
    assert len(_client(admin).get(LIST).json()) == 18
    admin_view = [i for i in _client(admin).get(LIST).json() if i["case"] == blinded.pk]
    assert all(i["grades"][version.label] == 3 for i in admin_view), "admins keep the full view"

    unread_item = AdjudicationItem.objects.filter(case=unread).first()
    url = f"{LIST}{unread_item.pk}/resolve/"
    response = _client(senior).post(url, {"grade": 1}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    unread_item.refresh_from_db()
    assert unread_item.status == "open"
    resolved = _client(other_senior).post(url, {"grade": 1, "note": "no cord contact"}, format="json").json()
    assert (resolved["status"], resolved["resolved_grade"], resolved["reference_grade"]) == ("resolved", 1, 1)
    assert resolved["resolved_by"] == other_senior.user.username and resolved["note"] == "no cord contact"


def test_readers_who_disagree_open_their_item_even_when_the_model_and_a_senior_already_have_one(project):
    case = _case(project, 1)
    version = _champion(project, [case], grade=0)
    senior, junior = _member(project, experience="senior"), _member(project, experience="junior")
    _read(case, senior, 3)
    reference_labels_update(project=project)
    model_item = AdjudicationItem.objects.get(case=case, level="C5/6")
    assert model_item.reason == "model_senior_disagree" and model_item.grades[version.label] == 0
    assert ReferenceLabel.objects.get(case=case, level="C5/6").grade == 3, (
        "the senior's label stands meanwhile"
    )

    _read(case, junior, 0)
    reference_labels_update(project=project)
    readers_item = AdjudicationItem.objects.get(case=case, level="C5/6", reason="readers_disagree")
    assert readers_item.grades == {senior.user.username: 3, junior.user.username: 0}
    assert not ReferenceLabel.objects.filter(case=case).exists(), "no label until a senior decides"

    adjudication_resolve(item=model_item, user=senior.user, grade=3)
    reference_labels_update(project=project)
    assert not ReferenceLabel.objects.filter(case=case, level="C5/6").exists(), (
        "the readers' item still waits"
    )
    adjudication_resolve(item=readers_item, user=senior.user, grade=2)
    reference_labels_update(project=project)
    label = ReferenceLabel.objects.get(case=case, level="C5/6")
    assert (label.grade, label.source, label.n_readers) == (2, "adjudicated", 2)


def test_the_model_lists_cost_the_same_queries_however_many_versions(project):
    """Found by benchmarks/volume.py: each training run read its version's project again, and every
    list read each version's training snapshot (megabytes at scale)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backend.learning.models import TrainingRun

    admin = _client(_member(project, experience="senior", role="admin"))

    def runs(count: int) -> None:
        start = ModelVersion.objects.filter(project=project).count()
        for number in range(start + 1, start + count + 1):
            version = ModelVersion.objects.create(
                project=project,
                number=number,
                status="challenger",
                training_snapshot={"grades": {"x": [1] * 50}},
            )
            TrainingRun.objects.create(project=project, model_version=version, status="succeeded")

    counts = []
    for added in (1, 4):
        runs(added)
        with CaptureQueriesContext(connection) as queries:
            for what in ("training-runs/", "model-versions/", "promotions/"):
                assert admin.get(f"/api/learning/projects/{SLUG}/{what}").status_code == 200
        counts.append(len(queries.captured_queries))
        assert not any("training_snapshot" in q["sql"] for q in queries.captured_queries)
    assert counts[0] == counts[1], counts
