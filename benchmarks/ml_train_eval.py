"""Train the default two-stage model on a 300-patient synthetic cohort and report the bars.

.venv/bin/python benchmarks/ml_train_eval.py                     # generates cohorts under var/ if missing
.venv/bin/python benchmarks/ml_train_eval.py --preset paper      # the paper's EfficientNet-B0 instead
.venv/bin/python benchmarks/ml_train_eval.py --classifier-seeds 1 2   # + two more classifier seeds
Prints: training minutes (goal <= 15 for detector + one classifier on 240 training patients),
test accuracy 4-grade / binary (goals >= 0.90 / >= 0.96), quadratic kappa (>= 0.90), the gap to
the cohort's CT oracle (goal <= 3 points; the oracle on the test split's own levels is printed
too), detection level recall (>= 0.99) and the accuracy
drop on a cohort from another scanner profile without retraining (goal <= 5 points).
With --classifier-seeds, classifiers of other seeds are trained behind the same detector on the
same split and scored on the test split and the hold-out, so one lucky seed does not pass for
the model: the figures per seed and their mean are printed too.
`test_binary_errors` lists the test split's binary errors with the generator's severity (2.0 is
the grade 1 / 2 cut) and the model's P(grade >= 2); `test_split_canal_cut_binary` / `holdout_canal_cut_binary` are the
binary accuracy of one true CT measurement (the canal AP at the disc, cut where it grades the
training patients best) on the same levels: a caliper's ceiling; `near_the_cut` counts, for the test split
and the 900-level hold-out, the levels within 0.25 severity of the cut and the errors there and
elsewhere, and the test split's binary accuracy to expect at the hold-out's error rates.
"""

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.config import preset  # noqa: E402
from ml.data import DETECTOR_WINDOWS, ROI_WINDOWS, load_cohort  # noqa: E402
from ml.evaluate import evaluate_checkpoint, evaluate_reformats  # noqa: E402
from ml.predict import Predictor  # noqa: E402
from ml.reformats import Reformats, load_data  # noqa: E402
from ml.synthetic import CohortConfig, generate_cohort, load_manifest  # noqa: E402
from ml.synthetic.oracle import canal_cut_on_patients, oracle_on_patients  # noqa: E402
from ml.train import train  # noqa: E402


def ensure_cohort(
    path: Path, *, patients: int, seed: int, shift: str | None = None, first_index: int = 0
) -> dict:
    if (path / "manifest.json").is_file():
        return load_manifest(path)
    print(f"generating {patients} patients into {path} ...", file=sys.stderr)
    return generate_cohort(
        CohortConfig(out=path, patients=patients, seed=seed, shift=shift, first_index=first_index, workers=2)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cohort", type=Path, default=Path("var/cohort300"))
    parser.add_argument("--shifted", type=Path, default=Path("var/cohort_shift60"))
    parser.add_argument(
        "--holdout",
        type=Path,
        default=Path("var/cohort300_holdout150"),
        help="150 more patients of the same generator and seed (patients 300-449): a 900-level check "
        "of what the 180-level test split measures with a CI of +-3 points",
    )
    parser.add_argument("--binary-loss-weight", type=float, default=None)
    parser.add_argument("--out", type=Path, default=Path("var/models/bench"))
    parser.add_argument("--preset", default="default")
    parser.add_argument("--classifier", default=None)
    parser.add_argument("--no-class-weighting", action="store_true", help="plain cross-entropy")
    parser.add_argument(
        "--roi-crop",
        choices=["physical", "box"],
        default=None,
        help="box, with --roi-windows detector: the older classifier input (checkpoints without roi_crop)",
    )
    parser.add_argument(
        "--roi-windows",
        choices=["classifier", "detector"],
        default=None,
        help="the crop's channels: ROI_WINDOWS (default) or the detector's",
    )
    parser.add_argument(
        "--classifier-seeds",
        type=int,
        nargs="*",
        default=[],
        help="more classifier seeds to train behind the same detector on the same split",
    )
    args = parser.parse_args()

    manifest = ensure_cohort(args.cohort, patients=300, seed=0)
    ensure_cohort(args.shifted, patients=60, seed=1, shift="other")
    holdout_manifest = ensure_cohort(args.holdout, patients=150, seed=0, first_index=300)
    overrides = {"classifier": args.classifier} if args.classifier else {}
    if args.no_class_weighting:
        overrides["class_weighting"] = False
    if args.binary_loss_weight is not None:
        overrides["binary_loss_weight"] = args.binary_loss_weight
    if args.roi_crop:
        overrides["roi_crop"] = args.roi_crop
    if args.roi_windows:
        overrides["roi_windows"] = ROI_WINDOWS if args.roi_windows == "classifier" else DETECTOR_WINDOWS
    config = preset(args.preset, cohort=str(args.cohort), out=str(args.out), **overrides)
    started = time.perf_counter()
    data = load_data(config)
    result = train(config, data=data)
    minutes = (time.perf_counter() - started) / 60
    shifted = evaluate_checkpoint(result["checkpoint"], str(args.shifted), split="all")
    holdout_data = Reformats.load(load_cohort(args.holdout))
    predictor = Predictor.from_checkpoint(result["checkpoint"], device="cpu")
    holdout = evaluate_reformats(predictor, holdout_data)
    test = result["test"]
    oracle = manifest["oracle"]
    split = data[1]
    fit_on = split["train"] + split["val"]
    test_oracle = oracle_on_patients(manifest, fit_on=fit_on, score_on=split["test"])
    holdout_oracle = oracle_on_patients(manifest, fit_on=fit_on, score_manifest=holdout_manifest)
    test_cut = canal_cut_on_patients(manifest, fit_on=fit_on, score_on=split["test"])
    holdout_cut = canal_cut_on_patients(manifest, fit_on=fit_on, score_manifest=holdout_manifest)
    figures = {
        "preset": args.preset,
        "classifier": config.classifier,
        "train_minutes": round(minutes, 1),
        "split_sizes": result["split_sizes"],
        "test_levels": test["n"],
        "accuracy_4grade": round(test["4grade"]["accuracy"], 4),
        "accuracy_4grade_ci95": [round(v, 3) for v in test["4grade"]["accuracy_ci95"]],
        "accuracy_binary": round(test["binary"]["accuracy"], 4),
        "kappa_quadratic_4grade": round(test["4grade"]["kappa_quadratic"], 4),
        "macro_f1_4grade": round(test["4grade"]["macro_f1"], 4),
        "detection_level_recall": round(test["detection"]["level_recall_iou50"], 4),
        "oracle_4grade": oracle["accuracy_4grade"],
        "oracle_binary": oracle["accuracy_binary"],
        "gap_to_oracle_points": round(100 * (oracle["accuracy_4grade"] - test["4grade"]["accuracy"]), 1),
        # the same tree fitted on the training patients' measurements, scored on these very levels
        "test_split_oracle_4grade": test_oracle["accuracy_4grade"],
        "test_split_oracle_binary": test_oracle["accuracy_binary"],
        # one true measurement, the canal AP at the disc, under the cut fitted on the training patients
        "test_split_canal_cut_binary": test_cut["accuracy_binary"],
        "canal_cut_mm": test_cut["cut_mm"],
        "shifted_accuracy_4grade": round(shifted["4grade"]["accuracy"], 4),
        "shifted_accuracy_binary": round(shifted["binary"]["accuracy"], 4),
        "shift_drop_points_4grade": round(
            100 * (test["4grade"]["accuracy"] - shifted["4grade"]["accuracy"]), 1
        ),
        "shifted_detection_recall": round(shifted["detection"]["level_recall_iou50"], 4),
        "holdout_levels": holdout["n"],
        "holdout_accuracy_4grade": round(holdout["4grade"]["accuracy"], 4),
        "holdout_accuracy_4grade_ci95": [round(v, 3) for v in holdout["4grade"]["accuracy_ci95"]],
        "holdout_accuracy_binary": round(holdout["binary"]["accuracy"], 4),
        "holdout_accuracy_binary_ci95": [round(v, 3) for v in holdout["binary"]["accuracy_ci95"]],
        "holdout_kappa_quadratic_4grade": round(holdout["4grade"]["kappa_quadratic"], 4),
        "holdout_oracle_4grade": holdout_manifest["oracle"]["accuracy_4grade"],
        "holdout_oracle_binary": holdout_manifest["oracle"]["accuracy_binary"],
        "holdout_oracle_fitted_on_training_4grade": holdout_oracle["accuracy_4grade"],
        "holdout_oracle_fitted_on_training_binary": holdout_oracle["accuracy_binary"],
        "holdout_canal_cut_binary": holdout_cut["accuracy_binary"],
        "accuracy_binary_ci95": [round(v, 3) for v in test["binary"]["accuracy_ci95"]],
        "reader_agreement": test["reader_agreement"],
    }
    test_levels = level_outcomes(predictor, data[0].images, split["test"], manifest)
    holdout_levels = level_outcomes(
        predictor, holdout_data.images, list(holdout_data.images), holdout_manifest
    )
    figures["test_binary_errors"] = [row for row in test_levels if row["wrong"]]
    figures["near_the_cut"] = near_the_cut(test_levels, holdout_levels)
    if args.classifier_seeds:
        figures["classifier_seeds"] = seed_spread(config, data, result, holdout, holdout_data, args)
    print(json.dumps(figures, indent=1))
    (args.out / "benchmark.json").write_text(json.dumps(figures, indent=1))


def level_outcomes(predictor: Predictor, images: dict, patients: list[str], manifest: dict) -> list[dict]:
    """Every graded level of the patients, end to end, with the generator's severity (grade = its
    floor; 2.0 is the binary cut) and whether the binary call was wrong."""
    truth = {p["patient_id"]: {lv["level"]: lv for lv in p["levels"]} for p in manifest["patients"]}
    rows = []
    for pid in patients:
        for level in predictor.predict_reformat(images[pid]):
            true = truth[pid][level.level]
            rows.append(
                {
                    "patient": pid,
                    "level": level.level,
                    "grade": true["grade"],
                    "predicted": level.grade,
                    "severity": true["severity"],
                    "p_significant": level.binary_probability,
                    "wrong": level.significant != (true["grade"] >= 2),
                }
            )
    return rows


NEAR_CUT = 0.25  # severity; free canal ~0.5 mm above to ~0.8 mm below the cord's AP: one or two CT pixels


def near_the_cut(test: list[dict], holdout: list[dict]) -> dict:
    """How many levels of each set lie within NEAR_CUT of the binary cut (severity 2.0), where the
    binary errors are, and the test split's binary accuracy expected at the hold-out's error
    rates near and away from the cut: how hard the test split's levels are, not how good the model is."""

    def split(rows: list[dict]) -> dict:
        near = [r for r in rows if abs(r["severity"] - 2.0) < NEAR_CUT]
        return {
            "levels": len(rows),
            "near_cut": len(near),
            "near_cut_share": round(len(near) / max(len(rows), 1), 4),
            "errors_near_cut": sum(r["wrong"] for r in near),
            "errors_elsewhere": sum(r["wrong"] for r in rows) - sum(r["wrong"] for r in near),
        }

    t, h = split(test), split(holdout)
    rate_near = h["errors_near_cut"] / max(h["near_cut"], 1)
    rate_far = h["errors_elsewhere"] / max(h["levels"] - h["near_cut"], 1)
    expected_errors = t["near_cut"] * rate_near + (t["levels"] - t["near_cut"]) * rate_far
    return {
        "width": NEAR_CUT,
        "test": t,
        "holdout": h,
        "test_binary_expected_at_holdout_rates": round(1 - expected_errors / max(t["levels"], 1), 4),
    }


def seed_spread(config, data, first: dict, first_holdout: dict, holdout_data: Reformats, args) -> dict:
    """Test and hold-out accuracy of classifiers of other seeds behind the first run's detector."""

    def row(seed: int, test: dict, holdout: dict) -> dict:
        return {
            "seed": seed,
            "test_4grade": round(test["4grade"]["accuracy"], 4),
            "test_binary": round(test["binary"]["accuracy"], 4),
            "holdout_4grade": round(holdout["4grade"]["accuracy"], 4),
            "holdout_binary": round(holdout["binary"]["accuracy"], 4),
        }

    rows = [row(config.seed, first["test"], first_holdout)]
    for seed in args.classifier_seeds:
        run = replace(
            config,
            seed=seed,
            split_seed=config.seed,
            detector_checkpoint=first["checkpoint"],
            out=str(args.out / f"seed{seed}"),
        )
        result = train(run, data=data)
        holdout = evaluate_reformats(
            Predictor.from_checkpoint(result["checkpoint"], device="cpu"), holdout_data
        )
        rows.append(row(seed, result["test"], holdout))
        print(json.dumps(rows[-1]), file=sys.stderr)
    columns = [c for c in rows[0] if c != "seed"]
    return {
        "per_seed": rows,
        "mean": {c: round(statistics.mean(r[c] for r in rows), 4) for c in columns},
        "min": {c: min(r[c] for r in rows) for c in columns},
    }


if __name__ == "__main__":
    main()
