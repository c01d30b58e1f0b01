"""python -m ml models|train|evaluate|compare|predict|levels  (see --help of each)"""

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from tqdm import tqdm


def _bar():
    bars: dict[str, tqdm] = {}

    def progress(info: dict) -> None:
        stage = info["stage"]
        if stage.endswith("_epoch"):
            tqdm.write(json.dumps(info), file=sys.stderr)
            return
        if stage not in bars:
            total = info.get("total")
            label = "reformat CT" if stage == "load" else f"train {stage}"
            bars[stage] = tqdm(
                total=total, desc=label, unit="study" if stage == "load" else "batch", file=sys.stderr
            )
        bar = bars[stage]
        if stage == "load":
            bar.update(info["done"] - bar.n)
        else:
            bar.update(1)
            bar.set_postfix(loss=f"{info['loss']:.3f}")

    return progress


def _emit(result: dict, path: Path | None) -> None:
    text = json.dumps(result, indent=1, default=str)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    else:
        print(text)


def _config(args):
    from ml.config import TrainConfig, preset

    overrides = {
        f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None
    }
    return preset(args.preset, **overrides)


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cohort", required=True, help="synthetic cohort folder, or a real one with --labels-csv"
    )
    parser.add_argument("--labels-csv", default=None, help="CSV of reader grades (real cohorts)")
    parser.add_argument("--out", required=True, help="output folder for checkpoints and results")
    parser.add_argument("--preset", default="default", choices=["smoke", "fast", "default", "paper"])
    parser.add_argument("--seed", type=int)
    parser.add_argument("--detector")
    parser.add_argument("--detector-epochs", type=int)
    parser.add_argument("--detector-checkpoint")
    parser.add_argument("--classifier-epochs", type=int)
    parser.add_argument(
        "--binary-loss-weight", type=float, help="weight of the P(grade >= 2) term in the loss"
    )
    parser.add_argument(
        "--roi-crop",
        choices=["physical", "box"],
        help="classifier crop: a fixed 24 x 32 mm window at the box (default) or the box stretched",
    )
    parser.add_argument("--max-patients", type=int)
    parser.add_argument("--device")
    parser.add_argument("--json", type=Path, help="write the JSON result here instead of stdout")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("models", help="list the detector and classifier registries")

    train_p = commands.add_parser("train", help="train detector and classifier on a cohort")
    _add_train_options(train_p)
    train_p.add_argument("--classifier")

    compare_p = commands.add_parser("compare", help="train and compare classifiers on one split")
    _add_train_options(compare_p)
    compare_p.add_argument("--models", required=True, help="comma-separated classifier names, or 'paper'")

    eval_p = commands.add_parser("evaluate", help="evaluate a checkpoint on a cohort")
    eval_p.add_argument("--checkpoint", required=True)
    eval_p.add_argument("--cohort", required=True)
    eval_p.add_argument("--labels-csv", default=None)
    eval_p.add_argument(
        "--split",
        choices=["test", "all"],
        default="test",
        help="test: the checkpoint's test patients; all: every patient (another cohort)",
    )
    eval_p.add_argument("--json", type=Path)

    pred_p = commands.add_parser("predict", help="grade the levels of one CT study (a folder of DICOM files)")
    pred_p.add_argument("--checkpoint", required=True)
    pred_p.add_argument("--study", required=True, type=Path)
    pred_p.add_argument("--mc-samples", type=int, default=0, help="MC-dropout samples for mutual information")
    pred_p.add_argument("--json", type=Path)

    levels_p = commands.add_parser("levels", help="find the disc levels of every CT and MR study, no model")
    levels_p.add_argument("--cohort", required=True, type=Path)
    levels_p.add_argument("--json", type=Path, help="also write the per-study findings here")
    args = parser.parse_args(argv)

    if args.command == "models":
        from ml.models import CLASSIFIERS, DETECTORS
        from ml.models.classifiers import PAPER_MODELS

        _emit(
            {
                "classifiers": sorted(CLASSIFIERS),
                "paper_models": list(PAPER_MODELS),
                "detectors": sorted(DETECTORS),
            },
            None,
        )
        return 0
    if args.command == "train":
        from ml.train import train

        _emit(train(_config(args), progress=_bar()), args.json)
        return 0
    if args.command == "compare":
        from ml.compare import compare
        from ml.models.classifiers import PAPER_MODELS

        models = list(PAPER_MODELS) if args.models == "paper" else [m.strip() for m in args.models.split(",")]
        _emit(compare(_config(args), models, progress=_bar()), args.json)
        return 0
    if args.command == "evaluate":
        from ml.evaluate import evaluate_checkpoint

        _emit(
            evaluate_checkpoint(
                args.checkpoint, args.cohort, labels_csv=args.labels_csv, split=args.split, progress=_bar()
            ),
            args.json,
        )
        return 0
    if args.command == "predict":
        from ml.predict import Predictor

        files = sorted(p for p in args.study.rglob("*") if p.is_file())
        levels = Predictor.from_checkpoint(args.checkpoint).predict_study(files, mc_samples=args.mc_samples)
        _emit({"study": str(args.study), "levels": [lv.as_dict() for lv in levels]}, args.json)
        return 0
    if args.command == "levels":
        from ml.level_eval import evaluate_levels

        bar = tqdm(desc="find levels", unit="patient", file=sys.stderr)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = evaluate_levels(args.cohort, progress=progress)
        bar.close()
        if args.json:
            _emit(result, args.json)
        _emit({k: v for k, v in result.items() if k != "per_study"}, None)
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
