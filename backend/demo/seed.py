"""The demo project of `make run`: demo accounts, a small synthetic cohort, ingested and paired."""

from pathlib import Path

from django.conf import settings

from backend.accounts.models import Experience, Role
from backend.accounts.services import reader_ensure
from backend.demo.simulation import manifest_levels, simulate_reading, simulation_panel_ensure
from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning import ml_bridge
from backend.projects.models import Project
from backend.projects.services import project_get_or_create, project_member_add
from backend.reading.models import Assignment
from backend.reading.services import case_sync_for_project, reference_set_update

DEMO_USERS = [
    ("admin", "admin-demo-pass", Experience.SENIOR, Role.ADMIN),
    ("senior", "senior-demo-pass", Experience.SENIOR, Role.READER),
    ("junior", "junior-demo-pass", Experience.JUNIOR, Role.READER),
]
DEMO_SLUG = "demo"


DEMO_PROJECT_SETTINGS = dict(
    acquisition_strategy="entropy",
    blinded_share=0.1,
    reference_share=0.25,
    retrain_threshold=12,
    training_preset="fast",
    kappa_every=2,
)


def demo_seed(
    *, patients: int, cohort_dir: Path | None = None, simulated_share: float = 0.5, log=print
) -> Project:
    """Idempotent: accounts, the demo project, and (when patients > 0) its cohort ingested.

    Simulated readers then read the reference set and `simulated_share` of the other cases, with
    the learning loop running (a first model trained and promoted, suggestions, priorities,
    agreement), so the dashboards have data and the demo readers find suggestions.
    """
    project = project_get_or_create(slug=DEMO_SLUG, name="Demo: cervical stenosis", **DEMO_PROJECT_SETTINGS)
    log("Demo accounts (username / password):")
    for username, password, experience, role in DEMO_USERS:
        profile, created = reader_ensure(
            username=username, password=password, experience=experience, role=role
        )
        project_member_add(project=project, user=profile.user, role=role)
        log(f"  {username:<8} / {password:<18} {experience} {role} ({'created' if created else 'exists'})")
    if patients <= 0:
        return project
    cohort_dir = cohort_dir or Path(settings.VAR_DIR) / "demo-cohort"
    if not (cohort_dir / "manifest.json").is_file():
        log(f"Generating a synthetic cohort of {patients} patients in {cohort_dir} ...")
        ml_bridge.synthetic_cohort_generate(out=cohort_dir, patients=patients, seed=2026, workers=2)
    files = sorted(p for p in cohort_dir.rglob("*.dcm"))
    job = ingest_job_run(job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project), paths=files)
    log(f"Demo cohort: {job.stored} instances stored, {job.duplicates} already there, {job.failed} rejected")
    case_sync_for_project(project=project)  # ingestion made them; pairs an admin fixed since are caught here
    log(f"Demo cases: {project.cases.count()}")
    _demo_reference_set_choose(project=project, cohort_dir=cohort_dir, log=log)
    if simulated_share > 0:
        _demo_simulated_reading(project=project, cohort_dir=cohort_dir, share=simulated_share, log=log)
    return project


def _demo_reference_set_choose(*, project: Project, cohort_dir: Path, log) -> None:
    """Choose the demo's reference set as an admin would: cases that span the grades.

    A random draw from a dozen phantoms can be all grade 0 and 1, and then the gate's and the
    dashboard's reference kappa mean nothing (one rater that never says 2 or 3). The demo knows its
    phantoms' grades, so it picks, greedily, the cases that add the most grades not yet covered.
    Done only while no case is read (the reference set is frozen once read).
    """
    if Assignment.objects.filter(case__project=project, status=Assignment.Status.SUBMITTED).exists():
        return
    cases = list(project.cases.select_related("pair__patient"))
    truth = manifest_levels(cohort_dir=cohort_dir)
    grades = {c.pk: {lv["grade"] for lv in truth.get(c.pair.patient.patient_id, {}).values()} for c in cases}
    size = sum(c.in_reference_set for c in cases)
    chosen: set[int] = set()
    covered: set[int] = set()
    for _ in range(size):
        best = max(
            (c for c in cases if c.pk not in chosen),
            key=lambda c: (len(grades[c.pk] - covered), max(grades[c.pk], default=0), -c.pk),
        )
        chosen.add(best.pk)
        covered |= grades[best.pk]
    reference_set_update(
        project=project, case_ids=[c.pk for c in cases if c.pk not in chosen], in_reference_set=False
    )
    reference_set_update(project=project, case_ids=sorted(chosen), in_reference_set=True)
    log(f"Demo reference set: {size} cases covering grades {sorted(covered)}")


def _demo_simulated_reading(*, project: Project, cohort_dir: Path, share: float, log) -> None:
    panel = simulation_panel_ensure(project=project, seniors=1, juniors=1, seed=2026)
    if project.cases.filter(assignments__reader__in=[m.user for m in panel]).exists():
        log("Demo reading by simulated readers: done already")
        return
    pool = [c for c in project.cases.select_related("pair__ct_study") if not c.in_reference_set]
    to_read = round(len(pool) * share)
    log(
        f"Simulated readers read the reference set and {to_read} of {len(pool)} other cases; the first model"
        " trains on the worker once `make run` starts it (its progress: the dashboard)"
    )
    simulate_reading(
        project=project,
        cohort_dir=cohort_dir,
        panel=panel,
        max_labels=6 * to_read,
        seed=2026,
        log=log,
        train_on_worker=True,  # the platform answers at once; the worker trains the first model meanwhile
    )
