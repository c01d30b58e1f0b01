"""The model-free finder places the levels of newly ingested studies (through ml_bridge)."""

import logging
from pathlib import Path

from django.conf import settings

from backend.imaging.models import IngestJob, Instance, Study
from backend.learning import ml_bridge
from backend.reading.level_positions import level_positions_record_finding, studies_without_finder_positions

logger = logging.getLogger(__name__)


def _is_sagittal(orientation) -> bool:
    if not orientation or len(orientation) != 6:
        return False
    r, c = orientation[:3], orientation[3:]
    return abs(r[1] * c[2] - r[2] * c[1]) > 0.8  # the normal's x component


def _series_files(*, study: Study) -> list[str]:
    """The series the finder reads: a CT's largest series; an MR's largest sagittal series."""
    best: list[str] = []
    for series in study.series.all():
        instances = list(Instance.objects.filter(series=series).values_list("file", "image_orientation"))
        if study.modality == "MR" and not (instances and _is_sagittal(instances[0][1])):
            continue
        if len(instances) > len(best):
            best = [str(Path(settings.MEDIA_ROOT) / f) for f, _ in instances]
    return best


def study_levels_find(*, study: Study) -> dict:
    """Run the finder on a study and store what it placed; a study it cannot read is logged, not raised:
    readers then place its levels themselves."""
    files = _series_files(study=study)
    if not files:
        return {"study_id": study.pk, "found": 0, "missing": "all", "error": "no readable series"}
    try:
        finding = ml_bridge.find_levels(modality=study.modality, files=files)
    except Exception as error:  # a study the finder cannot read must not fail its ingest
        logger.warning("level finder failed on study %s: %s", study.pk, error)
        return {"study_id": study.pk, "found": 0, "error": str(error)}
    level_positions_record_finding(study=study, levels=finding["levels"])
    return {"study_id": study.pk, "found": len(finding["levels"]), "missing": finding["missing"]}


def study_levels_find_after_ingest(*, job: IngestJob) -> list[dict]:
    """Every study that received files in this job and has no finder positions yet."""
    study_ids = list(
        Study.objects.filter(series__instances__created_at__gte=job.created_at, modality__in=["CT", "MR"])
        .values_list("pk", flat=True)
        .distinct()
    )
    return [
        study_levels_find(study=study)
        for study in Study.objects.filter(pk__in=studies_without_finder_positions(study_ids=study_ids))
    ]
