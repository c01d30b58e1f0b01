from pathlib import Path

from django.core.management.base import BaseCommand

from backend.demo.seed import demo_seed


class Command(BaseCommand):
    help = "Create the demo accounts and project, generate and ingest a small synthetic cohort (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--patients", type=int, default=12, help="synthetic patients (0: accounts only)")
        parser.add_argument(
            "--simulated-share",
            type=float,
            default=0.5,
            help="share of the non-reference cases read by simulated readers (0: none, no model)",
        )
        parser.add_argument("--cohort-dir", type=Path, default=None)

    def handle(
        self, *args, patients: int, cohort_dir: Path | None, simulated_share: float, **options
    ) -> None:
        demo_seed(
            patients=patients, cohort_dir=cohort_dir, simulated_share=simulated_share, log=self.stdout.write
        )
