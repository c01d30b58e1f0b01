"""Models trained outside the platform (`python -m ml train`, e.g. on a GPU) brought into a project."""

import shutil
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.learning.models import ModelVersion
from backend.learning.services.gate import model_version_gate
from backend.learning.services.registry import (
    checkpoint_summary_or_error,
    model_version_number_next,
    model_version_promote,
)
from backend.projects.models import Project


def model_version_import(
    *, project: Project, checkpoint: str | Path, gate: bool = True, promote: bool = False, note: str = ""
) -> ModelVersion:
    """The checkpoint as the project's next version: copied under MODELS_DIR (the project keeps its
    own file whatever becomes of the source), registered as a challenger, then judged by the gate
    on the frozen reference set like a version the platform trained (`gate=False`: left a challenger
    for an admin; `promote=True`: made champion whatever the gate says)."""
    source = Path(checkpoint)
    summary = checkpoint_summary_or_error(checkpoint=source)
    with transaction.atomic():
        number = model_version_number_next(project=project)
        target = Path(settings.MODELS_DIR) / project.slug / f"v{number}" / "model.pt"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        version = ModelVersion.objects.create(
            project=project,
            number=number,
            status=ModelVersion.Status.CHALLENGER,
            checkpoint=str(target),
            config=summary["config"],
            metrics=summary["metrics"],
            training_snapshot={
                "imported_from": str(source.resolve()),
                "imported_at": timezone.now().isoformat(),
                "note": note,
            },
        )
    if promote:
        return model_version_promote(version=version)
    if gate:
        model_version_gate(version=version)
        version.refresh_from_db()
    return version
