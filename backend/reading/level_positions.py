"""Level positions: writes (level_position_*) and reads (level_positions_*) of LevelPosition rows.

A study's levels are placed by the model-free finder as soon as it is ingested, by the model when it
pre-annotates, and by a reader who drags a level line; every placement is a new row, so the rows of
a study are its history. What a reader sees is the best current one: their own correction on this
case, then the model's (never on a blinded case), then the finder's.
"""

import math
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q

from backend.common.exceptions import ApplicationError
from backend.common.levels import LEVELS
from backend.imaging.models import Study
from backend.reading.models import Case, LevelPosition
from backend.reading.suggestions import champion_label

MODALITIES = ("CT", "MR")
MAX_COORDINATE_MM = 5000.0


def _point(value, *, name: str, unit: bool = False) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise ApplicationError(f"{name} must be three numbers [x, y, z].", code="invalid_position")
    try:
        point = [float(v) for v in value]
    except (TypeError, ValueError):
        raise ApplicationError(f"{name} must be three numbers [x, y, z].", code="invalid_position") from None
    if not all(math.isfinite(v) and abs(v) <= MAX_COORDINATE_MM for v in point):
        raise ApplicationError(f"{name} must be finite millimetres.", code="invalid_position")
    if unit:
        length = math.sqrt(sum(v * v for v in point))
        if length < 1e-6:
            raise ApplicationError(f"{name} must not be zero.", code="invalid_position")
        point = [v / length for v in point]
    return [round(v, 3) for v in point]


@transaction.atomic
def level_positions_record_finding(
    *,
    study: Study,
    levels: Iterable[dict],
    source: str = LevelPosition.Source.FINDER,
    model_version: str = "",
) -> list[LevelPosition]:
    """Store what the finder (or the model) placed: {level, centre, normal, canal, confidence} each."""
    rows = [
        LevelPosition(
            study=study,
            level=found["level"],
            source=source,
            centre=_point(found["centre"], name="centre"),
            normal=_point(found["normal"], name="normal", unit=True),
            canal=None if found.get("canal") is None else _point(found["canal"], name="canal"),
            confidence=found.get("confidence"),
            model_version=model_version,
        )
        for found in levels
        if found["level"] in LEVELS
    ]
    return LevelPosition.objects.bulk_create(rows)


def level_position_correct(
    *, case: Case, reader, modality: str, level: str, centre, normal=None
) -> LevelPosition:
    """A reader moves a level line on one of the case's studies; earlier positions stay as history."""
    if modality not in MODALITIES:
        raise ApplicationError("modality must be CT or MR.", code="invalid_position")
    if level not in LEVELS:
        raise ApplicationError(f"Unknown level {level!r}.", code="invalid_position")
    study = case.pair.ct_study if modality == "CT" else case.pair.mr_study
    if study is None:
        raise ApplicationError("This case has no such study.", code="invalid_position")
    current = level_positions_for_reader(case=case, reader=reader)[modality].get(level)
    if normal is None:
        normal = current["normal"] if current else [0.0, 0.0, 1.0]
    centre = _point(centre, name="centre")
    canal = None
    if current and current.get("canal"):  # the canal moves with the disc
        shift = [c - o for c, o in zip(centre, current["centre"], strict=True)]
        canal = [round(c + s, 3) for c, s in zip(current["canal"], shift, strict=True)]
    return LevelPosition.objects.create(
        study=study,
        level=level,
        source=LevelPosition.Source.READER,
        centre=centre,
        normal=_point(normal, name="normal", unit=True),
        canal=canal,
        author=reader,
        case=case,
    )


def _as_dict(row: LevelPosition) -> dict:
    return {
        "level": row.level,
        "source": row.source,
        "centre": row.centre,
        "normal": row.normal,
        "canal": row.canal,
        "confidence": row.confidence,
        "at": row.created_at.isoformat(),
    }


def level_positions_for_reader(*, case: Case, reader) -> dict[str, dict[str, dict]]:
    """Per modality and level, the best position this reader may see on this case: their own
    correction, then the current champion's (never on a blinded case; a retired version's rows stay
    as history but are not shown), then the finder's."""
    studies = {"CT": case.pair.ct_study_id, "MR": case.pair.mr_study_id}
    placed = Q(source=LevelPosition.Source.FINDER)
    champion = "" if case.blinded else champion_label(project=case.project)
    if champion:
        placed |= Q(source=LevelPosition.Source.MODEL, model_version=champion)
    rows = LevelPosition.objects.filter(placed, study_id__in=[s for s in studies.values() if s])
    if reader is not None:
        rows = rows | LevelPosition.objects.filter(
            case=case, author=reader, source=LevelPosition.Source.READER
        )
    rank = {LevelPosition.Source.READER: 0, LevelPosition.Source.MODEL: 1, LevelPosition.Source.FINDER: 2}
    best: dict[str, dict[str, tuple]] = {m: {} for m in MODALITIES}
    for row in rows.order_by("created_at", "pk"):
        modality = next((m for m, s in studies.items() if s == row.study_id), None)
        if modality is None:
            continue
        key = (rank[row.source], -row.created_at.timestamp(), -row.pk)
        if row.level not in best[modality] or key < best[modality][row.level][0]:
            best[modality][row.level] = (key, row)
    return {m: {level: _as_dict(row) for level, (_, row) in levels.items()} for m, levels in best.items()}


def level_positions_for_training(
    *, study_ids: Iterable[int], model_version: str = ""
) -> dict[int, dict[str, tuple[list[float], str]]]:
    """Per CT study: level -> (canal centre, source) from readers' corrections, else those of the
    model named (the champion; none without one); the finder's are left to the ml package, which
    places the rest itself."""
    found: dict[int, dict[str, tuple]] = {}
    rank = {LevelPosition.Source.READER: 0, LevelPosition.Source.MODEL: 1}
    placed = Q(source=LevelPosition.Source.READER)
    if model_version:
        placed |= Q(source=LevelPosition.Source.MODEL, model_version=model_version)
    rows = LevelPosition.objects.filter(placed, study_id__in=list(study_ids), canal__isnull=False)
    for row in rows.order_by("created_at", "pk"):
        current = found.setdefault(row.study_id, {}).get(row.level)
        if current is None or rank[row.source] <= rank[current[1]]:
            found[row.study_id][row.level] = (row.canal, row.source)
    return found


def level_positions_history(*, study_ids: Iterable[int]) -> list[dict]:
    """Every placement of the studies' levels, oldest first (for admins)."""
    rows = LevelPosition.objects.filter(study_id__in=list(study_ids)).select_related("author")
    return [
        {
            **_as_dict(row),
            "study_id": row.study_id,
            "author": row.author.username if row.author else None,
            "case_id": row.case_id,
        }
        for row in rows.order_by("created_at", "pk")
    ]


def studies_without_finder_positions(*, study_ids: Iterable[int]) -> list[int]:
    placed = set(
        LevelPosition.objects.filter(study_id__in=list(study_ids), source=LevelPosition.Source.FINDER)
        .values_list("study_id", flat=True)
        .distinct()
    )
    return [sid for sid in study_ids if sid not in placed]
