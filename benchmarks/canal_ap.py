"""The model's canal AP diameter against the generator's truth, on the 300-patient cohort's test split.

.venv/bin/python benchmarks/canal_ap.py                  # generates var/cohort300 if missing
.venv/bin/python benchmarks/canal_ap.py --shifted var/cohort_shift60

The estimator (ml.canal_ap) is fitted on the training split's levels, as `python -m ml train` fits
it, and scored on the test split (the same patient split as ml_train_eval.py, seed 0): at the
readers' boxes, and at the model-free finder's canal positions (a project without boxes). The
unfitted measurement (a project whose readers have not measured) is printed beside it. Goal:
mean absolute error <= 0.5 mm.
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ml.canal_ap import CanalApEstimator, measured_levels  # noqa: E402
from ml.data import DEFAULT_ROI, load_synthetic_cohort, patient_split  # noqa: E402
from ml.reformats import Reformats  # noqa: E402
from ml.synthetic import CohortConfig, generate_cohort  # noqa: E402


def ensure_cohort(path: Path, *, patients: int, seed: int, shift: str | None = None) -> None:
    if not (path / "manifest.json").is_file():
        print(f"generating {patients} patients into {path} ...", file=sys.stderr)
        generate_cohort(CohortConfig(out=path, patients=patients, seed=seed, shift=shift, workers=2))


def without_boxes(records):
    """The same studies as a project without boxes sees them: crops where the finder puts the canal."""
    return [dataclasses.replace(r, boxes={}) for r in records]


def errors(estimator: CanalApEstimator, data: Reformats, ids: list[str]) -> np.ndarray:
    features, truth = measured_levels(data, ids, DEFAULT_ROI)
    return np.abs(estimator.predict(features) - truth)


def row(name: str, e: np.ndarray) -> str:
    return (
        f"{name:<44} {len(e):>6} {e.mean():>8.3f} {np.median(e):>8.3f} {np.percentile(e, 90):>8.3f}"
        f" {(e <= 1.0).mean():>8.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cohort", type=Path, default=ROOT / "var" / "cohort300")
    parser.add_argument(
        "--shifted", type=Path, default=None, help="also score another scanner profile's cohort"
    )
    args = parser.parse_args()
    ensure_cohort(args.cohort, patients=300, seed=0)

    started = time.perf_counter()
    records = load_synthetic_cohort(args.cohort)
    split = patient_split([r.patient_id for r in records], seed=0)
    with_boxes = Reformats.load(records)
    loaded = time.perf_counter() - started
    estimator = CanalApEstimator.fit(*measured_levels(with_boxes, split["train"], DEFAULT_ROI))
    test = [r for r in records if r.patient_id in set(split["test"])]
    finder = Reformats.load(without_boxes(test))
    finder_levels = sum(len(b) for b in finder.boxes.values())

    print(f"cohort {args.cohort}: {len(records)} patients, test split {len(test)}; loaded in {loaded:.0f} s")
    print(f"fitted on {estimator.fitted_on} training levels\n")
    print(f"{'canal AP vs truth (mm)':<44} {'levels':>6} {'MAE':>8} {'median':>8} {'p90':>8} {'<=1 mm':>8}")
    print(row("fitted, readers' boxes (test split)", errors(estimator, with_boxes, split["test"])))
    print(row("fitted, finder's canal, no boxes (test split)", errors(estimator, finder, split["test"])))
    print(row("unfitted measurement, readers' boxes", errors(CanalApEstimator(), with_boxes, split["test"])))
    print(row("unfitted measurement, finder's canal", errors(CanalApEstimator(), finder, split["test"])))
    print(f"(the finder placed {finder_levels} of {6 * len(test)} test levels)")
    if args.shifted:
        ensure_cohort(args.shifted, patients=60, seed=1, shift="other")
        shifted = load_synthetic_cohort(args.shifted)
        data = Reformats.load(shifted)
        print(
            row(f"fitted, readers' boxes ({args.shifted.name})", errors(estimator, data, list(data.records)))
        )
    seconds = time.perf_counter() - started
    print(f"\n{seconds:.0f} s in all")


if __name__ == "__main__":
    main()
