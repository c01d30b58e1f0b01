from django.core.management.base import BaseCommand, CommandError

from backend.imaging.scp import ScpConfig, StoreScp
from backend.projects.models import Project


class Command(BaseCommand):
    help = "Receive DICOM over the network (C-STORE, C-ECHO) into a project; runs until stopped."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="slug of the project the studies go to")

    def handle(self, *args, project: str, **options) -> None:
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"no project {project!r}")
        config = ScpConfig.from_settings()
        allowed = ", ".join(config.allowed_aes) or "any calling AE"
        self.stdout.write(
            f"DICOM SCP {config.ae_title} on {config.host}:{config.port} into {found.slug!r} ({allowed})"
        )
        StoreScp(project=found, config=config).serve()
