"""Label efficiency of active learning: the whole loop per strategy and seed, on simulated readers.

.venv/bin/python benchmarks/label_efficiency.py                          # random, entropy, bald x 3 seeds
.venv/bin/python benchmarks/label_efficiency.py --patients 40 --seeds 0  # a quicker look

Each run is `manage.py simulate_reading` in its own database and media folder (VAR_DIR): the
same synthetic cohort is ingested, simulated readers read the frozen reference set, then the
other cases in worklist order (the strategy's priorities), and the model retrains every
--retrain-every training labels; each new version's quadratic kappa on the frozen reference set
is a point of the learning curve. For a seed, every strategy shares the project slug, hence the
same reference set and readers. Prints per strategy the labels needed to reach --target kappa
(mean of seeds) and the saving against random; writes the curves to var/benchmarks/label_efficiency.json
(the dashboard plots them).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_cohort(path: Path, *, patients: int, image_size: int) -> None:
    if (path / "manifest.json").is_file():
        return
    sys.path.insert(0, str(ROOT))
    from ml.synthetic import CohortConfig, generate_cohort

    print(f"generating {patients} patients ({image_size} px) into {path} ...", flush=True)
    generate_cohort(CohortConfig(out=path, patients=patients, seed=7, image_size=image_size, workers=2))


def simulate(*, cohort: Path, var: Path, options: list[str], fresh: bool) -> dict:
    """`manage.py simulate_reading` on the cohort in its own database and media folder (var), with
    the given options; returns its learning curve with the run's seconds (kept: reused unless fresh)."""
    out = var / "curve.json"
    if out.is_file() and not fresh:
        return json.loads(out.read_text())
    var.mkdir(parents=True, exist_ok=True)
    env = {
        "DEBUG": "1",
        **os.environ,
        "VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    started = time.perf_counter()
    subprocess.run(
        [*manage, "simulate_reading", "--cohort-dir", str(cohort), "--json", str(out), *options],
        env=env,
        check=True,
        cwd=ROOT,
    )
    result = json.loads(out.read_text())
    result["seconds"] = round(time.perf_counter() - started, 1)
    out.write_text(json.dumps(result, indent=1))
    return result


def run_loop(*, cohort: Path, work: Path, strategy: str, seed: int, args) -> dict:
    """One simulated project from scratch; returns its learning curve."""
    options = [
        "--project",
        f"le-seed{seed}",
        "--strategy",
        strategy,
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
        "--stop-at-kappa",
        str(args.target),
    ] + (["--max-labels", str(args.max_labels)] if args.max_labels else [])
    return simulate(cohort=cohort, var=work / f"{strategy}-seed{seed}", options=options, fresh=args.fresh)


def labels_to_reach(curve: list[dict], target: float) -> int | None:
    for point in curve:
        kappa = (point.get("reference") or {}).get("kappa_quadratic")
        if kappa is not None and kappa >= target:
            return point["labels"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=60)
    parser.add_argument("--image-size", type=int, default=128, help="smaller images: the loop runs faster")
    parser.add_argument("--strategies", default="random,entropy,bald")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--readers", type=int, default=3)
    parser.add_argument("--retrain-every", type=int, default=24)
    parser.add_argument("--reference-share", type=float, default=0.25)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--max-labels", type=int, default=None)
    parser.add_argument("--target", type=float, default=0.8)
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "benchmarks" / "label-efficiency")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "benchmarks" / "label_efficiency.json")
    parser.add_argument("--fresh", action="store_true", help="rerun runs whose curve exists already")
    args = parser.parse_args()

    cohort = args.work / f"cohort-{args.patients}-{args.image_size}"
    ensure_cohort(cohort, patients=args.patients, image_size=args.image_size)
    strategies, seeds = args.strategies.split(","), [int(s) for s in args.seeds.split(",")]
    runs = {}
    for seed in seeds:
        for strategy in strategies:
            print(f"== {strategy}, seed {seed}", flush=True)
            runs[(strategy, seed)] = run_loop(
                cohort=cohort, work=args.work, strategy=strategy, seed=seed, args=args
            )

    summary = {"config": {k: str(v) for k, v in vars(args).items()}, "strategies": {}}
    print(f"\nlabels to reach quadratic kappa {args.target} on the frozen reference set")
    print(f"{'strategy':<10} {'per seed':<24} {'mean':>8} {'vs random':>10}  final kappa (mean)")
    for strategy in strategies:
        reached = [labels_to_reach(runs[(strategy, s)]["curve"], args.target) for s in seeds]
        finals = [
            (runs[(strategy, s)]["curve"] or [{}])[-1].get("reference", {}).get("kappa_quadratic")
            for s in seeds
        ]
        # A run that never gets there counts as needing every label it saw (a lower bound).
        bounded = [
            r if r is not None else max((p["labels"] for p in runs[(strategy, s)]["curve"]), default=0)
            for r, s in zip(reached, seeds, strict=True)
        ]
        mean = statistics.mean(bounded) if bounded else float("nan")
        summary["strategies"][strategy] = {
            "labels_to_target": reached,
            "mean_labels_to_target": mean,
            "all_reached": None not in reached,
            "final_kappa": finals,
            "curves": {
                str(s): [
                    {
                        "labels": p["labels"],
                        "kappa_quadratic": (p.get("reference") or {}).get("kappa_quadratic"),
                        "ci95": (p.get("reference") or {}).get("kappa_quadratic_ci95"),
                    }
                    for p in runs[(strategy, s)]["curve"]
                ]
                for s in seeds
            },
        }
    base = summary["strategies"].get("random", {}).get("mean_labels_to_target")
    for strategy, s in summary["strategies"].items():
        saving = f"{1 - s['mean_labels_to_target'] / base:+.0%}" if base else "-"
        per_seed = ", ".join("-" if r is None else str(r) for r in s["labels_to_target"])
        finals = [f for f in s["final_kappa"] if f is not None]
        print(
            f"{strategy:<10} {per_seed:<24} {s['mean_labels_to_target']:>8.0f} {saving:>10}  "
            f"{statistics.mean(finals) if finals else float('nan'):.3f}{'' if s['all_reached'] else '  (not all seeds reached it)'}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1))
    print(f"\ncurves: {args.out}")


if __name__ == "__main__":
    main()
