"""The model-free level finder against the generator's truth, per modality, level and scanner profile.

.venv/bin/python benchmarks/level_finder.py                       # var/cohort300 and var/cohort_shift60
.venv/bin/python benchmarks/level_finder.py --cohorts var/lv20    # any synthetic cohort folders

The cohorts are ml_train_eval.py's (300 patients of the default profile, seed 0; 60 of the `other`
profile, seed 1), generated when missing. Prints, per cohort, the share of disc centres within
3 mm of the truth on CT and on the MR sagittal T2 (the issue's bars: CT >= 0.98, MR >= 0.95), the
share found at all, the median error, the per-level table and the median seconds per study
(reading the DICOM files included; bar <= 0.5 s on 2 cores). Writes everything to --json.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ml import LEVELS  # noqa: E402
from ml.level_eval import evaluate_levels  # noqa: E402
from ml.synthetic import CohortConfig, generate_cohort  # noqa: E402

DEFAULT_COHORTS = {
    "var/cohort300": {"patients": 300, "seed": 0},
    "var/cohort_shift60": {"patients": 60, "seed": 1, "shift": "other"},
}


def ensure(path: Path) -> None:
    spec = DEFAULT_COHORTS.get(str(path))
    manifest = path / "manifest.json"
    if (
        manifest.is_file()
        and "ct_disc_centre_mm" in json.loads(manifest.read_text())["patients"][0]["levels"][0]
    ):
        return
    if spec is None:
        raise SystemExit(
            f"{path}: no cohort with the finder's truth (regenerate it with this version of ml.synthetic)"
        )
    print(f"generating {spec['patients']} patients into {path} ...", file=sys.stderr, flush=True)
    generate_cohort(CohortConfig(out=path, workers=2, **spec))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cohorts", nargs="*", type=Path, default=[Path(p) for p in DEFAULT_COHORTS])
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "benchmarks" / "level_finder.json")
    args = parser.parse_args()
    results = {}
    for cohort in args.cohorts:
        ensure(cohort)
        result = evaluate_levels(cohort)
        results[str(cohort)] = result
        print(f"\n{cohort} ({result['studies']} patients)")
        print(
            f"{'':<6} {'within 3 mm':>11} {'found':>7} {'median mm':>10} {'s/study':>8}   per level within 3 mm"
        )
        for modality in ("ct", "mr"):
            per_level = result.get(f"{modality}_per_level_within_3mm", {})
            print(
                f"{modality.upper():<6} {result.get(f'{modality}_within_3mm', float('nan')):>11.3f}"
                f" {result.get(f'{modality}_found', float('nan')):>7.3f}"
                f" {result.get(f'{modality}_median_error_mm', float('nan')):>10.2f}"
                f" {result.get(f'{modality}_median_seconds', float('nan')):>8.3f}   "
                + " ".join(f"{level} {per_level.get(level, float('nan')):.2f}" for level in LEVELS)
            )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(f"\nper study: {args.json}")


if __name__ == "__main__":
    main()
