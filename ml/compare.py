"""The paper's comparison: N classifiers on one split, behind one detector, in one table."""

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ml.config import TrainConfig
from ml.reformats import load_data
from ml.train import train

COLUMNS = ("accuracy", "macro_f1", "kappa", "kappa_quadratic")


def compare(
    config: TrainConfig, models: list[str], *, progress: Callable[[dict], None] | None = None
) -> dict:
    """Train the first model's pipeline, then every other classifier behind its detector."""
    if not models:
        raise ValueError("name at least one classifier to compare")
    out = Path(config.out)
    data = load_data(config, progress)
    rows, detector_checkpoint = [], config.detector_checkpoint
    for name in models:
        run = replace(config, classifier=name, out=str(out / name), detector_checkpoint=detector_checkpoint)
        result = train(run, progress=progress, data=data)
        detector_checkpoint = detector_checkpoint or result["checkpoint"]
        test = result["test"]
        rows.append(
            {
                "model": name,
                "n_levels": test["n"],
                **{f"{task}_{c}": round(test[task][c], 4) for task in ("4grade", "binary") for c in COLUMNS},
                "train_seconds": result["train_seconds"],
                "checkpoint": result["checkpoint"],
            }
        )
    table = {"cohort": config.cohort, "split_sizes": result["split_sizes"], "rows": rows}
    (out / "comparison.md").write_text(markdown_table(rows))
    return table


def markdown_table(rows: list[dict]) -> str:
    header = "| model | 4-grade accuracy | F1 | kappa | quadratic kappa | binary accuracy | F1 | kappa | quadratic kappa |"
    lines = [header, "|" + " --- |" * 9]
    for row in sorted(rows, key=lambda r: -r["4grade_accuracy"]):
        cells = [row[f"{task}_{c}"] for task in ("4grade", "binary") for c in COLUMNS]
        lines.append(f"| {row['model']} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")
    return "\n".join(lines) + "\n"
