"""The model-free finder places the levels of newly ingested studies (through ml_bridge)."""

import logging
from pathlib import Path

from django.conf import settings

from backend.common.geometry import image_plane
from backend.imaging.models import IngestJob, Instance, Study
from backend.learning import ml_bridge
from backend.learning.models import ModelVersion
from backend.reading.level_positions import level_positions_record_finding, studies_without_finder_positions
from backend.reading.models import LevelPosition

logger = logging.getLogger(__name__)

MODEL_CANAL_TO_DISC_MM = 15.0  # half a canal and half a body: the disc lies anterior (-y) of the canal


def _series_files(*, study: Study) -> list[str]:
    """The series the finder reads: a CT's largest series; an MR's largest sagittal series."""
    best: list[str] = []
    for series in study.series.all():
        instances = list(Instance.objects.filter(series=series).values_list("file", "image_orientation"))
        if study.modality == "MR" and not (instances and image_plane(instances[0][1]) == "sagittal"):
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


def detector_places_levels(*, version: ModelVersion) -> bool:
    """Whether a version's detector is trusted to place level lines: its boxes matched the readers'
    on the held-out test studies at least as often as the finder's lines hit (a poor early model must
    not move good lines)."""
    detection = ((version.metrics or {}).get("test") or {}).get("detection") or {}
    recall = detection.get("level_recall_iou50")
    return recall is not None and recall >= settings.MODEL_LEVEL_POSITIONS_MIN_RECALL


def study_levels_from_predictions(*, study: Study, version: ModelVersion, predictions) -> int:
    """The model's level positions on a CT study, from its detected boxes (not interpolated ones).

    A box is centred on the canal at its level; the disc's centre and plane keep the finder's
    offset from the canal where the finder placed that level, and lie straight in front otherwise.
    """
    if not detector_places_levels(version=version):
        return 0
    if LevelPosition.objects.filter(
        study=study, source=LevelPosition.Source.MODEL, model_version=version.label
    ).exists():
        return 0
    finder = {
        p.level: p
        for p in LevelPosition.objects.filter(study=study, source=LevelPosition.Source.FINDER).order_by(
            "created_at"
        )
    }
    levels = []
    for prediction in predictions:
        if prediction.canal is None or prediction.box_score <= 0:
            continue
        found = finder.get(prediction.level)
        if found is not None and found.canal:
            offset = [c - k for c, k in zip(found.centre, found.canal, strict=True)]
            normal = found.normal
        else:
            offset, normal = [0.0, -MODEL_CANAL_TO_DISC_MM, 0.0], [0.0, 0.0, 1.0]
        centre = [c + o for c, o in zip(prediction.canal, offset, strict=True)]
        levels.append(
            {
                "level": prediction.level,
                "centre": centre,
                "normal": normal,
                "canal": prediction.canal,
                "confidence": prediction.box_score,
            }
        )
    level_positions_record_finding(
        study=study, levels=levels, source=LevelPosition.Source.MODEL, model_version=version.label
    )
    return len(levels)
