"""The learning loop in process: consensus, adjudication, training runs, the gate, priorities, kappa."""

import pytest
from rest_framework.test import APIClient
from sklearn.metrics import cohen_kappa_score

from backend.common.exceptions import ApplicationError
from backend.common.levels import LEVELS
from backend.demo.simulation import manifest_levels, simulate_reading, simulation_panel_ensure
from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning.models import (
    AdjudicationItem,
    KappaSnapshot,
    LevelPrediction,
    ModelVersion,
    ReferenceLabel,
    TrainingRun,
)
from backend.learning.services import (
    case_priorities_update,
    consensus_grade,
    kappa_snapshot_take,
    model_version_promote,
    model_version_register,
    preannotation_cycle,
    reference_labels_update,
    training_run_execute,
    training_run_retry,
    training_run_start,
    training_runs_reap,
)
from backend.projects.services import project_create, project_member_add
from backend.reading.models import Case
from backend.reading.services import (
    assignment_open,
    assignment_submit,
    case_sync_for_project,
    level_annotation_save,
)
from tests.backend.factories import ReaderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort(loop_cohort):
    return loop_cohort


@pytest.fixture
def checkpoint(loop_checkpoint):
    return loop_checkpoint


def _project(cohort, **settings):
    project = project_create(name="Loop", slug="loop", blinded_share=0.0, training_preset="smoke", **settings)
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted(cohort.rglob("*.dcm")),
    )
    case_sync_for_project(project=project)
    return project


def _read(case, profile, grades: dict[str, int] | int, box=None, **screen):
    assignment = assignment_open(case=case, reader=profile.user)
    for level in LEVELS:
        grade = grades if isinstance(grades, int) else grades[level]
        level_annotation_save(
            assignment=assignment,
            level=level,
            user=profile.user,
            version=None,
            grade=grade,
            box=box,
            **screen,
        )
    return assignment_submit(assignment=assignment, user=profile.user, notify_learning=False)


def _member(project, **kwargs):
    profile = ReaderFactory(**kwargs)
    project_member_add(project=project, user=profile.user)
    return profile


def test_the_reference_set_holds_its_share_even_in_a_small_project(cohort):
    project = _project(cohort, reference_share=0.25)
    assert project.cases.count() == 8 and project.cases.filter(in_reference_set=True).count() == 2
    assert all(c.priority >= 100 for c in project.cases.filter(in_reference_set=True))
    assert all(c.priority < 1 for c in project.cases.filter(in_reference_set=False))


def test_consensus_prefers_seniors_then_the_majority_and_breaks_ties_upwards():
    assert consensus_grade([1, 1, 2]) == 1
    assert consensus_grade([1, 2]) == 2
    assert consensus_grade([0, 3, 3, 0, 1]) == 3


def test_reference_labels_senior_over_junior_and_disagreements_wait_for_a_senior(cohort):
    project = _project(cohort, reference_share=0.0)
    senior, junior1, junior2 = (_member(project, experience=e) for e in ("senior", "junior", "junior"))
    case = Case.objects.filter(project=project).first()
    _read(case, senior, 1)
    _read(case, junior1, {**dict.fromkeys(LEVELS, 2), "C7/T1": 3})
    _read(case, junior2, 2)
    reference_labels_update(project=project)
    labels = {r.level: r for r in ReferenceLabel.objects.filter(case=case)}
    assert labels["C2/3"].grade == 1 and labels["C2/3"].source == "senior", "one senior outvotes two juniors"
    assert "C7/T1" not in labels, "graded 1 and 3: no label until a senior adjudicates"
    item = AdjudicationItem.objects.get(case=case)
    assert (item.level, item.reason, item.grades[senior.user.username]) == ("C7/T1", "readers_disagree", 1)

    client = APIClient()
    client.force_authenticate(junior1.user)
    assert client.get("/api/learning/projects/loop/adjudications/").status_code == 403
    url = f"/api/learning/projects/loop/adjudications/{item.pk}/resolve/"
    assert client.post(url, {"grade": 2}, format="json").status_code == 403
    client.force_authenticate(senior.user)
    assert [i["level"] for i in client.get("/api/learning/projects/loop/adjudications/").json()] == ["C7/T1"]
    assert client.post(url, {"grade": 7}, format="json").status_code == 400
    assert client.post(url, {"grade": 2, "note": "OPLL"}, format="json").json()["status"] == "resolved"
    assert client.post(url, {"grade": 2}, format="json").status_code == 404, "resolved: no longer open"
    reference_labels_update(project=project)
    label = ReferenceLabel.objects.get(case=case, level="C7/T1")
    assert (label.grade, label.source, label.n_readers) == (2, "adjudicated", 3)


def test_model_and_senior_two_grades_apart_go_to_adjudication(cohort, checkpoint):
    project = _project(cohort, reference_share=0.0)
    version = model_version_promote(version=model_version_register(project=project, checkpoint=checkpoint))
    preannotation_cycle()
    case = Case.objects.filter(project=project).first()
    predicted = dict(
        LevelPrediction.objects.filter(model_version=version, study=case.pair.ct_study).values_list(
            "level", "grade"
        )
    )
    senior = _member(project, experience="senior")
    _read(case, senior, {lv: 3 if predicted[lv] <= 1 else 0 for lv in LEVELS})
    reference_labels_update(project=project)
    items = AdjudicationItem.objects.filter(case=case)
    assert items.count() == 6 and {i.reason for i in items} == {"model_senior_disagree"}
    assert items[0].grades[version.label] == predicted[items[0].level]
    assert ReferenceLabel.objects.filter(case=case).count() == 6, "the readers' label stands meanwhile"


def test_kappa_snapshots_match_scikit_learn_and_split_blinded_from_shown(cohort, checkpoint):
    project = _project(cohort, reference_share=0.0)
    version = model_version_promote(version=model_version_register(project=project, checkpoint=checkpoint))
    preannotation_cycle()
    a, b = _member(project, experience="senior"), _member(project, experience="junior")
    cases = list(Case.objects.filter(project=project).order_by("pk")[:4])
    Case.objects.filter(pk=cases[0].pk).update(blinded=True)
    grades_a = [[(k + i) % 4 for i in range(6)] for k in range(4)]
    grades_b = [[(k * i) % 4 for i in range(6)] for k in range(4)]
    for case, ga, gb in zip(cases, grades_a, grades_b, strict=True):
        _read(case, a, dict(zip(LEVELS, ga, strict=True)), model_version_shown=version.label)
        _read(case, b, dict(zip(LEVELS, gb, strict=True)), model_version_shown=version.label)
    assert kappa_snapshot_take(project=project, trigger="manual") > 0
    row = KappaSnapshot.objects.get(kind="reader_reader", task="4grade", weighting="quadratic", subset="all")
    flat_a, flat_b = sum(grades_a, []), sum(grades_b, [])
    assert row.kappa == pytest.approx(cohen_kappa_score(flat_a, flat_b, weights="quadratic"), abs=1e-4)
    assert row.n == 24 and row.ci_low <= row.kappa <= row.ci_high
    blinded = KappaSnapshot.objects.get(
        kind="reader_reader", task="binary", weighting="none", subset="blinded"
    )
    binary = [[int(g >= 2) for g in grades] for grades in (grades_a[0], grades_b[0])]
    assert blinded.n == 6 and blinded.kappa == pytest.approx(cohen_kappa_score(*binary), abs=1e-4)
    model_rows = KappaSnapshot.objects.filter(kind="model_reader", model_version=version)
    assert set(model_rows.values_list("rater_b", flat=True)) == {a.user.username, b.user.username}
    assert set(KappaSnapshot.objects.filter(kind="model_group").values_list("rater_b", flat=True)) == {
        "senior",
        "junior",
    }

    admin = APIClient()
    admin.force_authenticate(ReaderFactory(role="admin").user)
    series = admin.get("/api/learning/projects/loop/kappa/?kind=reader_reader&subset=shown").json()
    assert len(series) == 1 and series[0]["points"][0]["n"] == 18
    assert admin.get("/api/learning/projects/loop/kappa/?subset=nope").status_code == 400
    reader = APIClient()
    reader.force_authenticate(a.user)
    assert reader.get("/api/learning/projects/loop/kappa/").status_code == 403


def test_priorities_follow_the_champions_uncertainty_with_the_reference_set_first(cohort, checkpoint):
    project = _project(cohort, reference_share=0.3, acquisition_strategy="entropy")
    cases = list(Case.objects.filter(project=project).select_related("pair__ct_study"))
    reference = [c for c in cases if c.in_reference_set]
    assert 0 < len(reference) < len(cases)
    version = model_version_promote(version=model_version_register(project=project, checkpoint=checkpoint))
    preannotation_cycle()  # predictions, then priorities
    ranked = list(Case.objects.filter(project=project).select_related("pair__ct_study").order_by("-priority"))
    assert {c.pk for c in ranked[: len(reference)]} == {c.pk for c in reference}
    rest = ranked[len(reference) :]
    entropy = {
        c.pk: sum(
            LevelPrediction.objects.filter(model_version=version, study=c.pair.ct_study).values_list(
                "entropy", flat=True
            )
        )
        / 6
        for c in rest
    }
    assert [c.pk for c in rest] == sorted(entropy, key=entropy.get, reverse=True)
    assert KappaSnapshot.objects.filter(trigger="model_version", model_version=version).count() == 0, (
        "nothing read yet: no agreement to record"
    )
    project.acquisition_strategy = "random"
    project.save()
    case_priorities_update(project=project)
    assert all(c.priority < 1 for c in Case.objects.filter(pk__in=[c.pk for c in rest]))


def test_a_training_run_registers_a_challenger_and_the_gate_decides(cohort, settings, tmp_path):
    settings.MODELS_DIR = tmp_path
    project = _project(cohort, reference_share=0.3)
    senior = _member(project, experience="senior")
    truth = manifest_levels(cohort_dir=cohort)
    for case in Case.objects.filter(project=project).select_related("pair__patient"):
        levels = truth[case.pair.patient.patient_id]
        assignment = assignment_open(case=case, reader=senior.user)
        for level in LEVELS:
            level_annotation_save(
                assignment=assignment,
                level=level,
                user=senior.user,
                version=None,
                grade=levels[level]["grade"],
                box=levels[level]["roi_sagittal"],
            )
        assignment_submit(assignment=assignment, user=senior.user, notify_learning=False)
    reference_labels_update(project=project)

    run = training_run_start(project=project)
    with pytest.raises(ApplicationError) as busy:
        training_run_start(project=project)
    assert busy.value.status == 409
    run = training_run_execute(run_id=run.pk, worker="here")
    assert run.status == "succeeded", run.error
    assert run.progress["stage"] == "done" and run.progress["history"][-1]["stage"] == "classifier"
    first = run.model_version
    assert first.status == "champion", "no champion yet: the first model wins"
    assert first.training_snapshot["labels"] == ReferenceLabel.objects.filter(frozen=False).count()
    frozen_studies = set(
        ReferenceLabel.objects.filter(frozen=True).values_list("case__pair__ct_study__study_uid", flat=True)
    )
    assert first.metrics["reference"]["n"] == 6 * len(frozen_studies) and frozen_studies
    assert not frozen_studies & {s.removeprefix("study-") for s in first.training_snapshot["studies"]}

    second = training_run_execute(run_id=training_run_start(project=project).pk).model_version
    gate = second.metrics["gate"]
    assert gate["champion"]["label"] == first.label and "reference kappa" in gate["reason"]
    first.refresh_from_db()
    expected = (
        second.metrics["reference"]["kappa_quadratic"]
        >= gate["champion"]["kappa_quadratic"] - project.gate_margin
    )
    assert gate["promoted"] is expected
    assert (second.status, first.status) == (
        ("champion", "retired") if expected else ("challenger", "champion")
    )
    assert ModelVersion.objects.filter(project=project, status="champion").count() == 1


def test_a_failed_training_leaves_the_champion_and_can_be_retried(cohort, checkpoint, settings, tmp_path):
    settings.MODELS_DIR = tmp_path
    project = _project(cohort)
    champion = model_version_promote(version=model_version_register(project=project, checkpoint=checkpoint))
    run = training_run_execute(run_id=training_run_start(project=project).pk)
    assert run.status == "failed" and "at least 3 read studies" in run.error
    assert run.model_version.status == "failed" and run.model_version.error == run.error
    champion.refresh_from_db()
    assert champion.status == "champion"
    retry = training_run_retry(run=run)
    assert (retry.status, retry.retry_of_id) == ("queued", run.pk)
    with pytest.raises(ApplicationError):
        training_run_retry(run=retry)

    # A run whose worker went silent is failed by the reaper, never left "running".
    TrainingRun.objects.filter(pk=retry.pk).update(status="running", worker="w1@host")
    assert training_runs_reap(worker="w2@host", stale_after_s=3600) == 0
    assert training_runs_reap(worker="w1@host") == 1
    retry.refresh_from_db()
    assert retry.status == "failed" and "w1@host" in retry.error


def test_training_runs_api_is_for_admins(cohort, settings, tmp_path):
    settings.MODELS_DIR = tmp_path
    project = _project(cohort)
    admin, reader = APIClient(), APIClient()
    admin.force_authenticate(ReaderFactory(role="admin").user)
    reader.force_authenticate(_member(project).user)
    assert reader.post("/api/learning/projects/loop/training-runs/").status_code == 403
    started = admin.post("/api/learning/projects/loop/training-runs/")
    assert started.status_code == 202 and started.json()["status"] == "queued"
    assert (
        admin.post("/api/learning/projects/loop/training-runs/").json()["error"]["code"] == "training_active"
    )
    run_id = started.json()["id"]
    training_run_execute(run_id=run_id)
    detail = admin.get(f"/api/learning/projects/loop/training-runs/{run_id}/").json()
    assert detail["status"] == "failed" and detail["model_version"] == "loop-v1"
    assert admin.post(f"/api/learning/projects/loop/training-runs/{run_id}/retry/").status_code == 202
    assert [r["id"] for r in admin.get("/api/learning/projects/loop/training-runs/").json()][1] == run_id


def test_the_simulated_loop_reads_trains_and_records_agreement(cohort, settings, tmp_path):
    settings.MODELS_DIR = tmp_path
    project = _project(
        cohort, reference_share=0.25, retrain_threshold=6, acquisition_strategy="entropy", kappa_every=2
    )
    panel = simulation_panel_ensure(project=project, seniors=1, juniors=2, seed=0)
    curve = simulate_reading(project=project, cohort_dir=cohort, panel=panel, log=lambda _: None)
    assert len(curve) >= 2 and all(p["status"] == "succeeded" for p in curve)
    assert [p["labels"] for p in curve] == sorted(p["labels"] for p in curve)
    assert curve[0]["promoted"] and curve[0]["reference"]["n"] > 0
    assert not Case.objects.filter(project=project).exclude(assignments__status="submitted").exists()
    assert KappaSnapshot.objects.filter(project=project, trigger="batch").exists()
    assert KappaSnapshot.objects.filter(project=project, trigger="model_version").exists()
    assert not AdjudicationItem.objects.filter(case__project=project, status="open").exists()
