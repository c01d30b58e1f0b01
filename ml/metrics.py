"""Grading and detection metrics (scikit-learn where it has them), with bootstrap intervals."""

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, f1_score, recall_score

GRADES = [0, 1, 2, 3]


def binary(grades: Sequence[int] | np.ndarray) -> np.ndarray:
    """Significant stenosis: grade >= 2."""
    return (np.asarray(grades) >= 2).astype(int)


def kappa(a: Sequence[int], b: Sequence[int], *, weights: str | None = None, labels=None) -> float:
    """Cohen's kappa; 1.0 when both raters agree perfectly on a single category (sklearn gives nan)."""
    a, b = np.asarray(a), np.asarray(b)
    if len(a) == 0:
        return float("nan")
    if len(np.union1d(a, b)) == 1:
        return 1.0
    return float(cohen_kappa_score(a, b, weights=weights, labels=labels))


def grading_metrics(
    truth: Sequence[int], predicted: Sequence[int], *, predicted_binary: Sequence[int] | None = None
) -> dict:
    """Accuracy, macro F1 and kappas (unweighted, linear, quadratic) for 4 grades and binary.

    The binary prediction is grade >= 2 unless given (e.g. from P(grade >= 2) > 0.5).
    """
    truth, predicted = np.asarray(truth, int), np.asarray(predicted, int)
    predicted_binary = binary(predicted) if predicted_binary is None else np.asarray(predicted_binary, int)
    result = {"n": int(len(truth))}
    for task, t, p, labels in (
        ("4grade", truth, predicted, GRADES),
        ("binary", binary(truth), predicted_binary, [0, 1]),
    ):
        result[task] = {
            "accuracy": float(accuracy_score(t, p)),
            "macro_f1": float(f1_score(t, p, labels=labels, average="macro", zero_division=0)),
            "kappa": kappa(t, p, labels=labels),
            "kappa_linear": kappa(t, p, weights="linear", labels=labels),
            "kappa_quadratic": kappa(t, p, weights="quadratic", labels=labels),
            "confusion_matrix": confusion_matrix(t, p, labels=labels).tolist(),
        }
    result["4grade"]["recall_per_grade"] = {
        str(g): float(r)
        for g, r in zip(GRADES, recall_score(truth, predicted, labels=GRADES, average=None, zero_division=0),
                        strict=True)
    }  # fmt: skip
    return result


def per_level_recall(
    truth: Sequence[int], predicted: Sequence[int], levels: Sequence[str]
) -> dict[str, float]:
    """Share of levels graded correctly, per disc level."""
    truth, predicted, levels = np.asarray(truth), np.asarray(predicted), np.asarray(levels)
    return {lv: float((truth[levels == lv] == predicted[levels == lv]).mean()) for lv in sorted(set(levels))}


def bootstrap_ci(
    truth: Sequence[int], predicted: Sequence[int], statistic, *, n_boot: int = 1000, seed: int = 0,
    groups: Sequence[str] | None = None,
) -> tuple[float, float]:  # fmt: skip
    """95% percentile interval of statistic(truth, predicted), resampling patients when groups are given."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    rng = np.random.default_rng(seed)
    if groups is None:
        units = [np.array([i]) for i in range(len(truth))]
    else:
        groups = np.asarray(groups)
        units = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    values = []
    for _ in range(n_boot):
        pick = np.concatenate([units[i] for i in rng.integers(0, len(units), len(units))])
        values.append(statistic(truth[pick], predicted[pick]))
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def with_intervals(
    truth, predicted, *, predicted_binary=None, groups=None, n_boot: int = 500, seed: int = 0
) -> dict:
    """grading_metrics plus bootstrap 95% intervals of accuracy and quadratic kappa (both tasks)."""
    result = grading_metrics(truth, predicted, predicted_binary=predicted_binary)
    predicted_binary = binary(predicted) if predicted_binary is None else np.asarray(predicted_binary)
    for task, t, p in (("4grade", np.asarray(truth), np.asarray(predicted)),
                       ("binary", binary(truth), predicted_binary)):  # fmt: skip
        result[task]["accuracy_ci95"] = bootstrap_ci(
            t, p, lambda a, b: float((a == b).mean()), n_boot=n_boot, seed=seed, groups=groups
        )
        result[task]["kappa_quadratic_ci95"] = bootstrap_ci(
            t, p, lambda a, b: kappa(a, b, weights="quadratic"), n_boot=n_boot, seed=seed, groups=groups
        )
    return result


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    iw, ih = max(0.0, min(ax1, bx1) - max(ax0, bx0)), max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def detection_level_recall(truth: list[dict[str, list[float]]], found: list[dict[str, list[float]]]) -> dict:
    """Share of true level boxes matched by a found box of the same level at IoU >= 0.5."""
    hits, total, ious = 0, 0, []
    for true_boxes, found_boxes in zip(truth, found, strict=True):
        for level, box in true_boxes.items():
            total += 1
            iou = box_iou(box, found_boxes[level]) if level in found_boxes else 0.0
            ious.append(iou)
            hits += int(iou >= 0.5)
    return {
        "level_recall_iou50": hits / total if total else float("nan"),
        "mean_iou": float(np.mean(ious or [0])),
    }


def _kappa_from_confusion(confusion: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Cohen's kappa of a stack of K x K confusion matrices (..., K, K), with disagreement weights."""
    total = confusion.sum(axis=(-2, -1), keepdims=True)
    observed = confusion / np.where(total == 0, 1, total)
    expected = observed.sum(axis=-1, keepdims=True) * observed.sum(axis=-2, keepdims=True)
    num = (weights * observed).sum(axis=(-2, -1))
    den = (weights * expected).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        value = 1.0 - num / den
    # Both raters always on one category: perfect agreement, as kappa() says.
    return np.where(den == 0, np.where(num == 0, 1.0, np.nan), value)


def kappa_with_interval(
    a: Sequence[int], b: Sequence[int], *, labels: Sequence[int], weights: str | None = None,
    groups: Sequence | None = None, n_boot: int = 500, seed: int = 0,
) -> tuple[float, float, float]:  # fmt: skip
    """Kappa of a against b with a bootstrap 95% interval that resamples groups (e.g. patients).

    Vectorised (one matrix product for all resamples), so thousands of rater pairs stay cheap;
    the point estimate equals scikit-learn's cohen_kappa_score.
    """
    a, b = np.asarray(a, int), np.asarray(b, int)
    if len(a) == 0:
        return float("nan"), float("nan"), float("nan")
    index = {label: k for k, label in enumerate(labels)}
    size = len(labels)
    cells = np.array([index[x] * size + index[y] for x, y in zip(a, b, strict=True)])
    unit_of = (
        np.unique(np.asarray(groups), return_inverse=True)[1] if groups is not None else np.arange(len(a))
    )
    n_units = int(unit_of.max()) + 1
    per_unit = np.zeros((n_units, size * size))
    np.add.at(per_unit, (unit_of, cells), 1)
    i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    w = {None: (i != j).astype(float), "linear": np.abs(i - j).astype(float), "quadratic": (i - j) ** 2.0}[
        weights
    ]
    point = float(_kappa_from_confusion(per_unit.sum(0).reshape(size, size), w))
    if n_boot <= 0 or n_units < 2:
        return point, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    picks = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot)
    values = _kappa_from_confusion((picks @ per_unit).reshape(n_boot, size, size), w)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return point, float("nan"), float("nan")
    return point, float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))
