from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backend.common.exceptions import ApplicationError
from backend.learning.services import model_version_import
from backend.projects.models import Project


class Command(BaseCommand):
    help = (
        "Bring a checkpoint trained outside the platform (python -m ml train) into a project as its next "
        "version, judged by the gate on the reference set. A checkpoint is a pickle and loading one runs "
        "code, which is why this is a shell command for whoever runs the server and not an upload."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("project", help="the project's slug")
        parser.add_argument("checkpoint", type=Path, help="the model.pt that `python -m ml train` wrote")
        parser.add_argument(
            "--no-gate", action="store_true", help="leave it a challenger for an admin to judge"
        )
        parser.add_argument(
            "--promote", action="store_true", help="make it the champion whatever the gate says"
        )
        parser.add_argument("--note", default="", help="where it comes from, kept with the version")

    def handle(
        self, *args, project: str, checkpoint: Path, no_gate: bool, promote: bool, note: str, **options
    ) -> None:
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"No project {project!r}.")
        try:
            version = model_version_import(
                project=found, checkpoint=checkpoint, gate=not no_gate, promote=promote, note=note
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        gate = version.metrics.get("gate", {})
        self.stdout.write(f"{version.label}: {version.status}" + (f" ({gate['reason']})" if gate else ""))
