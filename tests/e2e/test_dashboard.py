"""The admin dashboard in real Chromium, after a simulated reading run: the charts draw the run's data,
training progress is live, promote works, and readers get 403.

DASHBOARD_SCREENSHOTS=docs/images saves the dashboard as docs/images/dashboard*.png.
"""

import os
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from backend.demo.simulation import simulate_reading, simulation_panel_ensure
from backend.imaging.models import IngestJob, PreAnnotationRequest
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning.models import KappaSnapshot, ModelVersion, ReferenceLabel, TrainingRun
from backend.projects.services import project_create, project_member_add
from backend.reading.models import Assignment, Case, LevelAnnotation
from backend.reading.services import assignment_open, case_sync_for_project
from tests.backend import dicom_files as F
from tests.backend.factories import ReaderFactory
from tests.e2e.pages import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# How much of a chart's canvas is drawn on (not transparent).
CANVAS_INK = """(testId) => {
  const canvas = document.querySelector(`[data-testid=${testId}] canvas`);
  if (!canvas || !canvas.width) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ink++;
  return ink / (data.length / 4);
}"""
CHARTS = [
    "chart-progress",
    "chart-readers",
    "chart-kappa-timeline",
    "chart-kappa-subsets",
    "chart-grades",
    "chart-efficiency",
    "chart-reader-performance",
]
SIMULATED = ("sim-senior-1", "sim-junior-1", "sim-junior-2")


@pytest.fixture(scope="session")
def dashboard_cohort(tmp_path_factory) -> Path:
    from ml.synthetic import CohortConfig, generate_cohort

    root = tmp_path_factory.mktemp("dashboard-cohort")
    generate_cohort(CohortConfig(out=root, patients=6, seed=3, image_size=64))
    return root


def simulated_project(cohort: Path):
    """Six patients: two in the frozen reference set read by all three readers, four read once; a training
    every 6 new levels (from 3 cases on) (smoke preset), agreement after every reading; readings spread over three days."""
    project = project_create(
        name="Dashboard run",
        slug="dash-run",
        reference_share=0.34,
        blinded_share=0.34,
        retrain_threshold=6,
        training_preset="smoke",
        kappa_every=1,
    )
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted(cohort.rglob("*.dcm")),
    )
    case_sync_for_project(project=project)
    panel = simulation_panel_ensure(project=project, seniors=1, juniors=2, seed=0)
    simulate_reading(project=project, cohort_dir=cohort, panel=panel, log=lambda _: None)
    for k, assignment in enumerate(Assignment.objects.order_by("pk")):
        Assignment.objects.filter(pk=assignment.pk).update(
            submitted_at=assignment.submitted_at - timedelta(days=2 - k % 3)
        )
    return project


def screenshot(page, name: str) -> None:
    folder = os.environ.get("DASHBOARD_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_an_admin_sees_the_simulated_run_on_the_dashboard_and_a_reader_gets_403(
    live_server, page, dashboard_cohort, settings, tmp_path
):
    settings.MODELS_DIR = tmp_path
    settings.HEALTH_CHECK_TIMEOUT = 0.5
    project = simulated_project(dashboard_cohort)
    versions = ModelVersion.objects.filter(project=project)
    levels = LevelAnnotation.objects.filter(assignment__status="submitted").count()
    timeline = KappaSnapshot.objects.filter(
        project=project,
        kind__in=["model_group", "group_group"],
        task="4grade",
        weighting="quadratic",
        subset="all",
    )
    assert versions.exists() and timeline.exists() and levels == 6 * Assignment.objects.count()
    pending = PreAnnotationRequest.objects.filter(study__projects=project, status="pending")
    for _ in range(100):  # the worker's pass after the last promotion, if it is still serving
        if not pending.exists():
            break
        time.sleep(0.2)
    run = TrainingRun.objects.create(
        project=project,
        status="running",
        trigger="manual",
        labels_used=levels,
        progress={"stage": "classifier", "epoch": 1, "epochs": 4, "loss": 0.9},
    )
    ReaderFactory(username="dr-admin", role="admin", experience="senior")

    log_in(page, live_server, "dr-admin")
    page.get_by_test_id("dashboard-link").click()
    page.wait_for_url("**/dashboard")
    for chart in CHARTS:
        page.locator(f"[data-testid={chart}]:not([data-points='0'])").wait_for(timeout=15_000)
        assert page.evaluate(CANVAS_INK, chart) > 0.01, f"{chart} is blank"
    # Counted once the page is drawn: a worker woken by the run's promotions may still have been
    # taking a new champion's first agreement figures when the simulation returned.
    assert page.get_by_test_id("chart-kappa-timeline").get_attribute("data-points") == str(timeline.count())
    assert f"{levels} levels" in page.get_by_test_id("progress-totals").inner_text()
    assert page.get_by_test_id("chart-progress").get_attribute("data-points") == "3", "three days of readings"
    assert page.locator("[data-testid^=registry-row-]").count() == versions.count()
    assert page.locator("[data-testid^=reader-row-sim-]").count() == 3
    champion = versions.get(status="champion")
    matrix = page.get_by_test_id("confusion-matrix").locator("td")
    assert sum(int(cell) for cell in matrix.all_inner_texts()) == champion.metrics["reference"]["n"]
    assert page.get_by_test_id("card-champion").inner_text().startswith(champion.label)
    page.get_by_test_id("queue-table").wait_for()

    # readers vs the reference labels: on the reference set every simulated reader read every level
    frozen = ReferenceLabel.objects.filter(case__project=project, frozen=True).count()
    assert frozen > 0 and page.locator("[data-testid^=performance-reader-sim-]").count() == 3
    page.get_by_test_id("performance-scope").select_option("reference_set")
    for name in SIMULATED:
        cells = page.get_by_test_id(f"performance-reader-{name}").locator("td")
        assert cells.nth(1).inner_text() == str(frozen), name
        assert cells.nth(5).inner_text()[0] in "-0123456789", "quadratic kappa (interval)"
    assert page.get_by_test_id("performance-contrast-senior-junior").count() == 1
    csv_file = page.request.get(
        live_server.url + page.get_by_test_id("performance-csv").get_attribute("href")
    )
    assert csv_file.status == 200 and csv_file.headers["content-type"].startswith("text/csv")
    assert "senior - junior" in csv_file.text() and all(name in csv_file.text() for name in SIMULATED)

    # live training progress: the panel polls while the run is active
    assert "epoch 1/4" in page.get_by_test_id(f"run-progress-{run.pk}").inner_text()
    TrainingRun.objects.filter(pk=run.pk).update(
        progress={"stage": "classifier", "epoch": 3, "epochs": 4, "loss": 0.4}
    )
    page.get_by_test_id(f"run-progress-{run.pk}").get_by_text("epoch 3/4").wait_for(timeout=10_000)
    screenshot(page, "dashboard.png")
    TrainingRun.objects.filter(pk=run.pk).update(status="failed", error="stopped by the test")
    page.get_by_test_id("training-polling").get_by_text("No training under way").wait_for(timeout=10_000)

    other = versions.exclude(status__in=["champion", "failed", "training"]).first()
    assert other is not None, "two trainings: one version is champion, the other can be promoted"
    page.get_by_test_id(f"promote-{other.number}").click()  # by hand, through the learning API
    page.get_by_test_id(f"registry-row-{other.number}").locator(".badge.champion").wait_for()
    assert ModelVersion.objects.get(pk=other.pk).status == "champion"
    assert not page.page_errors

    page.get_by_role("button", name="Log out").click()
    ReaderFactory(username="dr-reader", experience="junior")
    log_in(page, live_server, "dr-reader")
    assert page.get_by_test_id("dashboard-link").count() == 0
    page.goto(f"{live_server.url}/dashboard")
    assert "403" in page.get_by_test_id("dashboard-forbidden").inner_text()
    response = page.request.get(f"{live_server.url}/api/dashboard/projects/dash-run/summary/")
    assert response.status == 403


def test_an_admin_moves_unread_cases_into_the_reference_set_from_the_dashboard(live_server, page, tmp_path):
    project = project_create(name="Reference", slug="ref-set", reference_share=0.2, blinded_share=0.0)
    for k in range(3):
        F.write_series(tmp_path / f"ct{k}", 1, patient_id=f"P{k}", study_date=date(2025, 1, 1))
        F.write_series(tmp_path / f"mr{k}", 1, patient_id=f"P{k}", modality="MR", study_date=date(2025, 1, 5))
    ingest_job_run(
        job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
        paths=sorted(tmp_path.rglob("*.dcm")),
    )
    member = Case.objects.get(project=project, in_reference_set=True)
    unread, read = Case.objects.filter(project=project, in_reference_set=False).order_by("pk")
    reader = ReaderFactory(username="ref-reader")
    project_member_add(project=project, user=reader.user)
    Assignment.objects.filter(pk=assignment_open(case=read, reader=reader.user).pk).update(status="submitted")
    admin = ReaderFactory(username="ref-admin", role="admin", experience="senior")
    project_member_add(project=project, user=admin.user)

    log_in(page, live_server, "ref-admin")
    page.goto(f"{live_server.url}/dashboard?project=ref-set")
    assert "1 of 3 cases" in page.get_by_test_id("reference-set-count").inner_text()
    assert page.get_by_test_id(f"reference-toggle-{read.pk}").is_disabled(), "a read case cannot move"
    page.get_by_test_id(f"reference-toggle-{unread.pk}").click()  # checked once the server agrees
    page.get_by_test_id("reference-set-count").get_by_text("2 of 3").wait_for(timeout=10_000)
    assert page.get_by_test_id(f"reference-toggle-{unread.pk}").is_checked()
    page.get_by_test_id(f"reference-toggle-{member.pk}").click()
    page.get_by_test_id("reference-set-count").get_by_text("1 of 3").wait_for(timeout=10_000)
    assert set(Case.objects.filter(project=project, in_reference_set=True).values_list("pk", flat=True)) == {
        unread.pk
    }

    page.get_by_test_id("reference-filter").fill(read.pair.patient.patient_id)  # one row: the read case
    assert page.get_by_test_id(f"reference-row-{member.pk}").count() == 0
    assert page.get_by_test_id("reference-add-shown").is_disabled(), "a read case is not movable"
    page.get_by_test_id("reference-filter").fill("")
    page.get_by_test_id("reference-shown").select_option("others")
    assert page.get_by_test_id(f"reference-row-{unread.pk}").count() == 0
    assert page.get_by_test_id("reference-add-shown").inner_text() == "Add 1 shown"
    page.get_by_test_id("reference-add-shown").click()  # the member moved back in; the read case stays out
    page.get_by_test_id("reference-set-count").get_by_text("2 of 3").wait_for(timeout=10_000)
    assert set(Case.objects.filter(project=project, in_reference_set=True).values_list("pk", flat=True)) == {
        unread.pk,
        member.pk,
    }
    assert not page.page_errors
