"""The only door from Django into `ml`: file paths and plain values in, plain values out.

What needs PyTorch (training, prediction) is imported when first called: web processes, which
only read kappas and constants, do not load it (it costs them ~700 MB of memory).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ml.acquisition import margin
from ml.imaging import REFORMAT_SPACING_MM  # mm between rows (and columns) of the CT sagittal reformat
from ml.metrics import SCORES, TASKS, kappa_with_interval, rater_scores_with_intervals

if TYPE_CHECKING:
    from ml.predict import LevelPrediction, Predictor
    from ml.synthetic import SimulatedReader

__all__ = ["REFORMAT_SPACING_MM"]  # re-exported for the selectors that place boxes


@lru_cache(maxsize=4)
def _predictor(checkpoint: str) -> Predictor:
    from ml.predict import Predictor

    return Predictor.from_checkpoint(checkpoint, device="cpu")


def predict_study(*, checkpoint: str, ct_files: list[Path], mc_samples: int = 0) -> list[LevelPrediction]:
    return _predictor(checkpoint).predict_study(ct_files, mc_samples=mc_samples)


def json_safe(value):
    """NaN and infinities (an undefined kappa, an empty interval) become null: JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def checkpoint_summary(*, checkpoint: str) -> dict:
    predictor = _predictor(checkpoint)
    return json_safe({"config": predictor.config, "metrics": predictor.metrics})


def train_on_studies(
    *,
    studies: Sequence[dict],
    out: str,
    preset_name: str,
    seed: int = 0,
    detector_checkpoint: str | None = None,
    init_from: str | None = None,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Train both stages on the platform's labels.

    Each study: {"key", "ct_files", "grades": {level: grade}, "boxes": {level: box}, "positions":
    {level: (canal centre, source)}, "canal_ap_mm": {level: a reader's caliper}}; a graded level with neither is cropped where the finder places
    it. With `detector_checkpoint`, that detector is reused. With
    `init_from` (the champion) both networks start from its weights.
    """
    from ml.config import preset
    from ml.data import StudyRecord, patient_split
    from ml.reformats import Reformats
    from ml.train import train

    records = [
        StudyRecord(
            patient_id=s["key"],
            ct_files=[Path(f) for f in s["ct_files"]],
            grades=s["grades"],
            boxes=s["boxes"],
            positions=s.get("positions", {}),
            canal_ap_mm=s.get("canal_ap_mm", {}),
        )
        for s in studies
    ]
    config = preset(
        preset_name,
        out=out,
        seed=seed,
        max_patients=None,
        detector_checkpoint=detector_checkpoint,
        init_from=init_from,
    )
    split = patient_split([r.patient_id for r in records], ratios=config.split_ratios, seed=seed)
    data = Reformats.load(records, progress)
    return train(config, progress=progress, data=(data, split))


def agreement(
    *,
    a: Sequence[int],
    b: Sequence[int],
    labels: Sequence[int],
    weights: str | None,
    groups: Sequence | None = None,
    n_boot: int = 300,
) -> tuple[float, float, float]:
    """Cohen's kappa with a bootstrap 95% interval over groups (cases)."""
    return kappa_with_interval(a, b, labels=labels, weights=weights, groups=groups, n_boot=n_boot)


GRADING_SCORES, GRADING_TASKS = SCORES, TASKS  # accuracy, macro_f1, kappa, kappa_quadratic; 4grade, binary


def rater_scores(
    *,
    raters: dict[Hashable, tuple[Sequence, Sequence[int], Sequence[int]]],
    contrasts: Sequence[tuple[Hashable, Hashable]] = (),
    n_boot: int = 1000,
) -> dict:
    """Each rater's accuracy, macro F1 and kappa (unweighted, quadratic) against the truth, 4 grades and binary:
    raters maps a name to (cases, truth, grades) per level; one bootstrap draw of the cases serves all, so a
    contrast (a, b) has an interval of a - b. {"raters": {name: {task: {score: (value, 95% low, 95% high)}}},
    "contrasts": {(a, b): ...}}, NaN where undefined."""
    return rater_scores_with_intervals(raters, contrasts=contrasts, n_boot=n_boot)


def margin_score(*, probabilities: Sequence[Sequence[float]]) -> list[float]:
    """Uncertainty by margin (1 - (p1 - p2)), per level."""
    import numpy as np

    return margin(np.asarray(probabilities, float)).tolist()


# ---- synthetic cohorts and simulated readers (the demo app: `seed_demo`, `simulate_reading`) -----


def synthetic_cohort_generate(
    *, out: Path, patients: int, seed: int, workers: int = 2, image_size: int | None = None
) -> None:
    """A synthetic cohort in `out`: DICOM files and manifest.json (each level's truth)."""
    from ml.synthetic import CohortConfig, generate_cohort

    extra = {"image_size": image_size} if image_size else {}
    generate_cohort(CohortConfig(out=out, patients=patients, seed=seed, workers=workers, **extra))


def simulated_reader_make(*, name: str, experience: str, seed: int) -> SimulatedReader:
    """A simulated reader of this experience (junior or senior): the value simulated_grade reads with."""
    from ml.synthetic import make_reader

    return make_reader(name, experience, seed=seed)


def simulated_grade(
    *, reader: SimulatedReader, severity: float, patient_id: str, level: str, seed: int
) -> int:
    """The grade this simulated reader gives a level of this true severity."""
    from ml.synthetic import read_level

    return read_level(reader, severity=severity, patient_id=patient_id, level=level, seed=seed)


def find_levels(*, modality: str, files: Sequence[str | Path]) -> dict:
    """The model-free level finder on one CT series or one sagittal MR series (ml.levels)."""
    from ml.levels import find_ct_levels_in_files, find_mr_levels_in_files

    finder = find_ct_levels_in_files if modality == "CT" else find_mr_levels_in_files
    return finder(files).as_dict()
