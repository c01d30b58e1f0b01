import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backend.demo.simulation import simulate_reading, simulation_panel_ensure
from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.learning import ml_bridge
from backend.projects.models import AcquisitionStrategy, Project
from backend.projects.services import project_create
from backend.reading.services import case_sync_for_project


class Command(BaseCommand):
    help = (
        "Run the learning loop on a synthetic cohort with simulated readers: generate and ingest the "
        "cohort, then readers submit in worklist order, the model retrains every N labels, the gate "
        "decides, suggestions and priorities refresh, and agreement snapshots are stored."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--patients", type=int, default=30)
        parser.add_argument(
            "--readers", type=int, default=3, help="simulated readers; the first third are seniors"
        )
        parser.add_argument("--seniors", type=int, default=None, help="overrides the split of --readers")
        parser.add_argument("--project", default="simulation", help="project slug (created when missing)")
        parser.add_argument(
            "--strategy", choices=AcquisitionStrategy.values, default=AcquisitionStrategy.ENTROPY
        )
        parser.add_argument(
            "--retrain-every", type=int, default=60, help="new training levels per retraining"
        )
        parser.add_argument(
            "--reads-per-case", type=int, default=1, help="readers per case outside the reference set"
        )
        parser.add_argument("--reference-share", type=float, default=0.2)
        parser.add_argument("--blinded-share", type=float, default=0.1)
        parser.add_argument("--preset", default="fast", help="ml training preset (fast, smoke, default)")
        parser.add_argument(
            "--max-labels", type=int, default=None, help="stop after this many training labels"
        )
        parser.add_argument(
            "--stop-at-kappa",
            type=float,
            default=None,
            help="stop once a new version's quadratic kappa on the reference set reaches this",
        )
        parser.add_argument("--cohort-dir", type=Path, default=None)
        parser.add_argument(
            "--image-size", type=int, default=None, help="synthetic image size (smaller: faster)"
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--no-boxes",
            action="store_true",
            help="readers grade by keyboard only and draw no ROI box (crops come from level positions)",
        )
        parser.add_argument("--json", type=Path, default=None, help="write the learning curve here")

    def handle(self, *args, **o) -> None:
        cohort_dir = o["cohort_dir"] or Path(settings.VAR_DIR) / f"sim-cohort-{o['patients']}-{o['seed']}"
        if not (cohort_dir / "manifest.json").is_file():
            self.stdout.write(f"Generating {o['patients']} synthetic patients in {cohort_dir} ...")
            ml_bridge.synthetic_cohort_generate(
                out=cohort_dir, patients=o["patients"], seed=o["seed"], workers=2, image_size=o["image_size"]
            )
        project = Project.objects.filter(slug=o["project"]).first()
        if project is None:
            project = project_create(
                name=f"Simulation ({o['strategy']})",
                slug=o["project"],
                acquisition_strategy=o["strategy"],
                blinded_share=o["blinded_share"],
                reference_share=o["reference_share"],
                retrain_threshold=o["retrain_every"],
                training_preset=o["preset"],
            )
        elif project.cases.filter(assignments__status="submitted").exists():
            raise CommandError(f"Project {project.slug!r} has readings already; choose another --project.")
        job = ingest_job_run(
            job=ingest_job_create(source=IngestJob.Source.FOLDER, project=project),
            paths=sorted(cohort_dir.rglob("*.dcm")),
        )
        case_sync_for_project(project=project)
        reference = project.cases.filter(in_reference_set=True).count()
        self.stdout.write(
            f"Ingested {job.stored} instances ({job.duplicates} known); {project.cases.count()} cases,"
            f" {reference} in the frozen reference set."
        )
        readers = o["readers"]
        seniors = o["seniors"] if o["seniors"] is not None else max(1, readers // 3)
        panel = simulation_panel_ensure(
            project=project, seniors=seniors, juniors=max(0, readers - seniors), seed=o["seed"]
        )
        self.stdout.write(f"Readers: {', '.join(m.user.username for m in panel)}; reading ...")
        curve = simulate_reading(
            project=project,
            cohort_dir=cohort_dir,
            panel=panel,
            reads_per_case=o["reads_per_case"],
            max_labels=o["max_labels"],
            stop_at_kappa=o["stop_at_kappa"],
            seed=o["seed"],
            log=self.stdout.write,
            boxes=not o["no_boxes"],
        )
        summary = {"project": project.slug, "strategy": project.acquisition_strategy, "curve": curve}
        if o["json"]:
            o["json"].parent.mkdir(parents=True, exist_ok=True)
            o["json"].write_text(json.dumps(summary, indent=1, default=str))
        self.stdout.write(
            self.style.SUCCESS(f"Done: {len(curve)} trainings; curve in {o['json'] or '(not saved)'}")
        )
