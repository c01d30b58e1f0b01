"""Benchmark the synthetic cohort generator: patients per second and MB per patient.

.venv/bin/python benchmarks/synthetic_cohort.py --patients 200            # the issue's bar
.venv/bin/python benchmarks/synthetic_cohort.py --patients 20 --repeat 3  # quick, median of 3
Goal: 200 patients at the default size in under 5 minutes and under about 1.5 GB.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.synthetic import CohortConfig, generate_cohort  # noqa: E402
from ml.synthetic.cohort import DEFAULT_IMAGE_SIZE  # noqa: E402


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--shift", default=None)
    parser.add_argument("--keep", type=Path, default=None, help="write the (last) cohort here and keep it")
    args = parser.parse_args()

    runs = []
    for attempt in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            out = args.keep if (args.keep and attempt == args.repeat - 1) else Path(tmp) / "cohort"
            config = CohortConfig(
                out=out,
                patients=args.patients,
                seed=attempt,
                image_size=args.image_size,
                workers=args.workers,
                shift=args.shift,
            )
            started = time.perf_counter()
            manifest = generate_cohort(config)
            seconds = time.perf_counter() - started
            size = folder_bytes(out)
        runs.append({"seconds": seconds, "bytes": size, "oracle": manifest.get("oracle")})
        print(f"run {attempt + 1}: {seconds:.1f} s, {size / 1e6:.0f} MB", file=sys.stderr)

    seconds = statistics.median(r["seconds"] for r in runs)
    size = statistics.median(r["bytes"] for r in runs)
    result = {
        "patients": args.patients,
        "image_size": args.image_size,
        "workers": args.workers,
        "median_seconds": round(seconds, 1),
        "patients_per_second": round(args.patients / seconds, 2),
        "mb_per_patient": round(size / args.patients / 1e6, 2),
        "total_gb": round(size / 1e9, 3),
        "projected_200_patients": {
            "minutes": round(200 * seconds / args.patients / 60, 2),
            "gb": round(200 * size / args.patients / 1e9, 2),
        },
        "oracle": runs[-1]["oracle"],
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
