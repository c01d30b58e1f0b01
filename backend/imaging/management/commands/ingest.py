from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from backend.imaging.models import IngestJob
from backend.imaging.services import ingest_job_create, ingest_job_run
from backend.projects.services import project_get_or_create


class Command(BaseCommand):
    help = "Ingest every DICOM file under PATH (recursively) and print a summary."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--project", help="project slug (created when missing)")
        parser.add_argument("--deidentify", action="store_true", help="DICOM PS3.15 basic profile at ingest")
        parser.add_argument("--quiet", action="store_true")

    def handle(
        self, *args, path: Path, project: str | None, deidentify: bool, quiet: bool, **options
    ) -> None:
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        files = (
            [path]
            if path.is_file()
            else sorted(p for p in path.rglob("*") if p.is_file() and p.name != "manifest.json")
        )
        target = project_get_or_create(slug=project) if project else None
        job = ingest_job_create(source=IngestJob.Source.FOLDER, project=target, deidentify_data=deidentify)
        with tqdm(total=len(files), unit="file", disable=quiet, file=self.stderr._out) as bar:
            ingest_job_run(job=job, paths=files, progress=lambda outcome: bar.update(1))
        self.stdout.write(
            f"{job.total_files} files: {job.stored} stored, {job.duplicates} already stored (unchanged), "
            f"{job.failed} rejected"
        )
        for error in job.errors[:50]:
            self.stdout.write(f"  rejected {error['file']}: [{error['code']}] {error['message']}")
        if len(job.errors) > 50:
            self.stdout.write(f"  ... and {len(job.errors) - 50} more (ingest job {job.pk})")
