"""What the reader had on screen when a grade was set (LevelAnnotation.display), and the kappa subsets
that follow it: the server decides blinded and no_model, only shown vs hidden comes from the client."""

import importlib
from datetime import date

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from backend.common.levels import LEVELS
from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning.models import KappaSnapshot, LevelPrediction, ModelVersion
from backend.learning.services import kappa_snapshot_take
from backend.projects.services import project_create, project_member_add
from backend.reading.models import AnnotationEvent, Assignment, Case, LevelAnnotation
from backend.reading.services import assignment_submit
from tests.backend import dicom_files as F
from tests.backend.dashboard_data import seed_dashboard_project
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db
SLUGS = [level.replace("/", "-") for level in LEVELS]


@pytest.fixture
def project(tmp_path):
    project = project_create(name="Screen", slug="screen", blinded_share=0.0)
    for k in range(3):
        F.write_series(tmp_path / f"ct{k}", 1, patient_id=f"P{k}", study_date=date(2025, 1, 1))
        F.write_series(tmp_path / f"mr{k}", 1, patient_id=f"P{k}", modality="MR", study_date=date(2025, 1, 5))
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted(tmp_path.rglob("*.dcm")),
    )
    return project


def champion_with(project, grades: dict[int, dict[str, int]]) -> ModelVersion:
    """A champion whose suggestions are `grades` (case id -> level -> grade); other levels have none."""
    version = ModelVersion.objects.create(project=project, number=1, status=ModelVersion.Status.CHAMPION)
    LevelPrediction.objects.bulk_create(
        [
            LevelPrediction(
                model_version=version,
                study=Case.objects.get(pk=case_id).pair.ct_study,
                level=level,
                grade=grade,
                box=[1, 2, 3, 4],
                box_score=0.9,
                probabilities=[0.25] * 4,
                binary_probability=0.5,
                entropy=1.0,
            )
            for case_id, levels in grades.items()
            for level, grade in levels.items()
        ]
    )
    return version


def member(project, **kwargs):
    profile = ReaderFactory(**kwargs)
    project_member_add(project=project, user=profile.user)
    client = APIClient()
    client.force_authenticate(profile.user)
    return client, profile.user


def put(client, case_id: int, slug: str, **body):
    return client.put(f"/api/reading/cases/{case_id}/levels/{slug}/", body, format="json")


def saved(user, level: str) -> LevelAnnotation:
    return LevelAnnotation.objects.get(assignment__reader=user, level=level)


def test_the_level_records_shown_or_hidden_as_the_client_says_and_no_model_where_there_is_no_suggestion(
    project,
):
    case = Case.objects.order_by("pk").first()
    champion_with(project, {case.pk: {level: 1 for level in LEVELS[:5]}})  # nothing for C7/T1
    client, user = member(project)

    assert put(client, case.pk, "C2-3", grade=1).json()["display"] == "shown"  # the view's default
    assert put(client, case.pk, "C3-4", grade=2, display="hidden").json()["display"] == "hidden"
    assert put(client, case.pk, "C7-T1", grade=0, display="shown").json()["display"] == "no_model"
    assert put(client, case.pk, "C4-5", grade=0, display="no_model").json()["display"] == "no_model"
    rows = {
        a.level: (a.display, a.model_version_shown, a.suggestion_shown)
        for a in LevelAnnotation.objects.filter(assignment__reader=user)
    }
    assert rows == {
        "C2/3": ("shown", "screen-v1", True),
        "C3/4": ("hidden", "screen-v1", False),
        "C4/5": ("no_model", "", False),
        "C7/T1": ("no_model", "", False),
    }

    # a box or a note leaves the record of the grade alone; a new grade records the screen anew
    assert (
        put(client, case.pk, "C3-4", version=1, box=[1, 1, 9, 9], display="shown").json()["display"]
        == "hidden"
    )
    assert put(client, case.pk, "C3-4", version=2, grade=3, display="shown").json()["display"] == "shown"
    history = AnnotationEvent.objects.filter(annotation=saved(user, "C3/4")).order_by("pk")
    assert [e.after["display"] for e in history] == ["hidden", "hidden", "shown"]


def test_a_client_cannot_claim_a_suggestion_on_a_blinded_case_or_before_a_champion(project):
    blinded, plain, _ = Case.objects.order_by("pk")
    Case.objects.filter(pk=blinded.pk).update(blinded=True)
    client, user = member(project)

    assert (
        put(client, plain.pk, "C2-3", grade=1, display="shown").json()["display"] == "no_model"
    )  # no champion
    champion_with(project, {case.pk: {level: 2 for level in LEVELS} for case in (blinded, plain)})
    assert put(client, blinded.pk, "C2-3", grade=1, display="shown").json()["display"] == "blinded"
    assert put(client, blinded.pk, "C3-4", grade=1, display="hidden").json()["display"] == "blinded"
    on_blinded = LevelAnnotation.objects.filter(assignment__case=blinded)
    assert set(on_blinded.values_list("display", "model_version_shown", "suggestion_shown")) == {
        ("blinded", "", False)
    }
    for claim in ("blinded", "anything"):
        response = put(client, plain.pk, "C4-5", grade=1, display=claim)
        assert response.status_code == 400, claim
    assert not LevelAnnotation.objects.filter(assignment__case=plain, level="C4/5").exists()


def _read(case, user, grades: list[int], displays: list[str]) -> None:
    client = APIClient()
    client.force_authenticate(user)
    for slug, grade, display in zip(SLUGS, grades, displays, strict=True):
        assert put(client, case.pk, slug, grade=grade, display=display).status_code == 200
    assignment_submit(
        assignment=Assignment.objects.get(case=case, reader=user), user=user, notify_learning=False
    )


def test_kappa_subsets_count_what_each_reader_had_on_screen_not_that_a_champion_existed(project):
    blinded, first, second = Case.objects.order_by("pk")
    Case.objects.filter(pk=blinded.pk).update(blinded=True)
    model = {case.pk: {level: k % 4 for k, level in enumerate(LEVELS)} for case in (blinded, first, second)}
    del model[second.pk]["C7/T1"]  # the champion has not read this level: no suggestion, no model pair
    champion_with(project, model)
    _, senior = member(project, experience="senior")
    _, junior = member(project, experience="junior")
    shown, hidden = ["shown"] * 6, ["hidden"] * 6
    _read(blinded, senior, [0, 1, 2, 3, 0, 1], shown)  # the client's claim is ignored: blinded
    _read(blinded, junior, [0, 1, 2, 3, 1, 1], hidden)
    _read(first, senior, [0, 1, 2, 3, 0, 1], shown)
    _read(first, junior, [0, 1, 2, 2, 0, 1], ["shown", "shown", "shown", "hidden", "hidden", "hidden"])
    _read(second, senior, [1, 1, 2, 3, 0, 0], hidden)
    _read(second, junior, [1, 1, 2, 3, 0, 0], hidden)
    kappa_snapshot_take(project=project, trigger=KappaSnapshot.Trigger.MANUAL)

    def n(kind: str, rater_b: str) -> dict[str, int]:
        rows = KappaSnapshot.objects.filter(kind=kind, rater_b=rater_b, task="4grade", weighting="none")
        return dict(rows.values_list("subset", "n"))

    assert n("model_reader", senior.username) == {"all": 17, "blinded": 6, "shown": 6, "hidden": 5}
    assert n("model_reader", junior.username) == {"all": 17, "blinded": 6, "shown": 3, "hidden": 8}
    pair = KappaSnapshot.Kind.READER_READER
    # two readers count in a subset where both had the same on screen: on the first case C2/3..C4/5 shown,
    # the rest mixed; on the second, C7/T1 had no suggestion for either
    assert n(pair, max(senior.username, junior.username)) == {
        "all": 18,
        "blinded": 6,
        "shown": 3,
        "hidden": 5,
    }
    hidden_kappa = KappaSnapshot.objects.get(
        kind="model_group", rater_b="junior", subset="hidden", task="4grade", weighting="none"
    )
    assert hidden_kappa.n == 8


def test_old_rows_get_display_from_the_old_fields():
    migration = importlib.import_module("backend.reading.migrations.0004_level_display")
    data = seed_dashboard_project(slug="old-rows", cases=10, reads_per_case=1, readers=2)
    annotations = LevelAnnotation.objects.filter(assignment__case__project=data.project)
    annotations.filter(assignment__case__blinded=False, level="C2/3").update(
        suggestion_shown=False, model_version_shown=""
    )
    annotations.filter(assignment__case__blinded=True).update(suggestion_shown=False, model_version_shown="")
    annotations.update(display="hidden")
    migration.display_from_old_fields(apps, None)
    got = {
        (a.assignment.case.blinded, a.level == "C2/3", a.display)
        for a in annotations.select_related("assignment__case")
    }
    assert got == {
        (True, True, "blinded"),
        (True, False, "blinded"),
        (False, True, "no_model"),
        (False, False, "shown"),
    }
