"""Does a grade without a box teach the model as much as one with a box? The whole loop twice.

.venv/bin/python benchmarks/no_box_reading.py                 # 60 patients, 120 labels, seeds 0
.venv/bin/python benchmarks/no_box_reading.py --seeds 0,1

Each run is `manage.py simulate_reading` in its own database and media folder (label_efficiency's
runner): the same cohort and readers, once drawing the true ROI box with every grade and once
grading by keyboard only (`--no-boxes`: crops come from the level positions, i.e. the model-free
finder at first). Prints the champion's quadratic kappa on the frozen reference set after
--max-labels training labels for both, and the difference (the issue's bar: within 0.05, and
the no-box run >= 0.8).
"""

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from label_efficiency import ensure_cohort, simulate  # noqa: E402


def run(*, cohort: Path, var: Path, seed: int, boxes: bool, args) -> dict:
    options = [
        "--project",
        f"nb-seed{seed}",
        "--strategy",
        "random",
        "--seed",
        str(seed),
        "--readers",
        str(args.readers),
        "--retrain-every",
        str(args.retrain_every),
        "--preset",
        args.preset,
        "--reference-share",
        str(args.reference_share),
        "--max-labels",
        str(args.max_labels),
    ] + ([] if boxes else ["--no-boxes"])
    return simulate(cohort=cohort, var=var, options=options, fresh=args.fresh)


def final_kappa(result: dict) -> float | None:
    promoted = [p for p in result["curve"] if p.get("reference")]
    return (promoted[-1]["reference"] if promoted else {}).get("kappa_quadratic")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=60)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--readers", type=int, default=3)
    parser.add_argument("--retrain-every", type=int, default=60)
    parser.add_argument("--max-labels", type=int, default=120)
    parser.add_argument("--reference-share", type=float, default=0.25)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "benchmarks" / "no-box")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()

    cohort = args.work / f"cohort-{args.patients}-{args.image_size}"
    ensure_cohort(cohort, patients=args.patients, image_size=args.image_size)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        pair = {}
        for boxes in (True, False):
            name = "boxes" if boxes else "no-boxes"
            print(f"== seed {seed}, {name}", flush=True)
            pair[name] = run(
                cohort=cohort, var=args.work / f"{name}-seed{seed}", seed=seed, boxes=boxes, args=args
            )
        rows.append(
            (
                seed,
                final_kappa(pair["boxes"]),
                final_kappa(pair["no-boxes"]),
                pair["boxes"]["seconds"],
                pair["no-boxes"]["seconds"],
            )
        )
    print(f"\nreference-set quadratic kappa after {args.max_labels} labels (fast preset)")
    print(f"{'seed':>4} {'boxes':>8} {'no boxes':>9} {'difference':>11} {'minutes':>14}")
    for seed, with_boxes, without, s1, s2 in rows:
        diff = None if with_boxes is None or without is None else without - with_boxes
        fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        print(
            f"{seed:>4} {fmt(with_boxes):>8} {fmt(without):>9} {fmt(diff):>11} {s1 / 60:>6.1f} /{s2 / 60:>5.1f}"
        )
    diffs = [r[2] - r[1] for r in rows if r[1] is not None and r[2] is not None]
    if diffs:
        print(f"median difference (no boxes - boxes): {statistics.median(diffs):+.3f}")


if __name__ == "__main__":
    main()
