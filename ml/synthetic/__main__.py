"""python -m ml.synthetic --out DIR --patients N --seed S [--image-size 224] [--shift other]"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from ml.synthetic.cohort import DEFAULT_IMAGE_SIZE, CohortConfig, generate_cohort
from ml.synthetic.scanners import PROFILES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.synthetic", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="cohort folder (created)")
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE, help="CT matrix (pixels)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default", help="scanner profile")
    parser.add_argument(
        "--shift",
        choices=sorted(PROFILES),
        default=None,
        help="acquire every patient on this other scanner profile (domain shift)",
    )
    parser.add_argument("--first-index", type=int, default=0, help="index of the first patient")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()) and not (args.out / "manifest.json").exists():
        parser.error(f"{args.out} exists, is not empty and holds no cohort; choose another folder")

    config = CohortConfig(
        out=args.out,
        patients=args.patients,
        seed=args.seed,
        image_size=args.image_size,
        profile=args.profile,
        shift=args.shift,
        first_index=args.first_index,
        workers=max(1, args.workers),
    )
    bar = tqdm(total=args.patients, unit="patient", disable=args.quiet, file=sys.stderr)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)

    try:
        manifest = generate_cohort(config, progress=progress)
    except ValueError as exc:
        parser.error(str(exc))
    bar.close()
    elapsed = time.perf_counter() - started
    grades = [level["grade"] for p in manifest["patients"] for level in p["levels"]]
    summary = {
        "out": str(args.out),
        "patients": len(manifest["patients"]),
        "seconds": round(elapsed, 1),
        "grade_counts": {str(g): grades.count(g) for g in range(4)},
        "oracle": manifest.get("oracle"),
    }
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
