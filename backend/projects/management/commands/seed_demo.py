from pathlib import Path

from django.core.management.base import BaseCommand

from backend.projects.demo import demo_seed


class Command(BaseCommand):
    help = "Create the demo accounts and project, generate and ingest a small synthetic cohort (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--patients", type=int, default=8, help="synthetic patients (0: accounts only)")
        parser.add_argument("--cohort-dir", type=Path, default=None)

    def handle(self, *args, patients: int, cohort_dir: Path | None, **options) -> None:
        demo_seed(patients=patients, cohort_dir=cohort_dir, log=self.stdout.write)
