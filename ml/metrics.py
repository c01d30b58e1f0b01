"""Grading and detection metrics (scikit-learn where it has them), with bootstrap intervals."""

from collections.abc import Hashable, Mapping, Sequence

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
        for g, r in zip(
            GRADES, recall_score(truth, predicted, labels=GRADES, average=None, zero_division=0), strict=True
        )
    }
    return result


def per_level_recall(
    truth: Sequence[int], predicted: Sequence[int], levels: Sequence[str]
) -> dict[str, float]:
    """Share of levels graded correctly, per disc level."""
    truth, predicted, levels = np.asarray(truth), np.asarray(predicted), np.asarray(levels)
    return {lv: float((truth[levels == lv] == predicted[levels == lv]).mean()) for lv in sorted(set(levels))}


def bootstrap_ci(
    truth: Sequence[int],
    predicted: Sequence[int],
    statistic,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    groups: Sequence[str] | None = None,
) -> tuple[float, float]:
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
    for task, t, p in (
        ("4grade", np.asarray(truth), np.asarray(predicted)),
        ("binary", binary(truth), predicted_binary),
    ):
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
    a: Sequence[int],
    b: Sequence[int],
    *,
    labels: Sequence[int],
    weights: str | None = None,
    groups: Sequence | None = None,
    n_boot: int = 500,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Kappa of a against b with a bootstrap 95% interval that resamples groups (e.g. patients).

    Vectorised (one matrix product for all resamples), so thousands of rater pairs stay cheap;
    the point estimate equals scikit-learn's cohen_kappa_score.
    """
    a, b = np.asarray(a, int), np.asarray(b, int)
    if len(a) == 0:
        return float("nan"), float("nan"), float("nan")
    size = len(labels)
    per_unit = _confusion_per_unit(a, b, labels=labels, groups=groups)
    w = _disagreement_weights(size, weights)
    point = float(_kappa_from_confusion(per_unit.sum(0).reshape(size, size), w))
    resampled = _bootstrap_confusions(per_unit, size=size, n_boot=n_boot, seed=seed)
    if resampled is None:
        return point, float("nan"), float("nan")
    return (point, *_percentile_interval(_kappa_from_confusion(resampled, w)))


def _confusion_per_unit(
    a: np.ndarray, b: np.ndarray, *, labels: Sequence[int], groups: Sequence | None
) -> np.ndarray:
    """(units, K * K) counts: one flattened confusion matrix (rows: a) per group, or per item without groups."""
    index = {label: k for k, label in enumerate(labels)}
    size = len(labels)
    cells = np.array([index[x] * size + index[y] for x, y in zip(a, b, strict=True)])
    unit_of = (
        np.unique(np.asarray(groups), return_inverse=True)[1] if groups is not None else np.arange(len(a))
    )
    per_unit = np.zeros((int(unit_of.max()) + 1, size * size))
    np.add.at(per_unit, (unit_of, cells), 1)
    return per_unit


def _disagreement_weights(size: int, weights: str | None) -> np.ndarray:
    i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return {None: (i != j).astype(float), "linear": np.abs(i - j).astype(float), "quadratic": (i - j) ** 2.0}[
        weights
    ]


def _bootstrap_confusions(per_unit: np.ndarray, *, size: int, n_boot: int, seed: int) -> np.ndarray | None:
    """(n_boot, K, K) confusion matrices of units drawn with replacement; None with fewer than two units."""
    n_units = len(per_unit)
    if n_boot <= 0 or n_units < 2:
        return None
    picks = np.random.default_rng(seed).multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot)
    return (picks @ per_unit).reshape(n_boot, size, size)


def _percentile_interval(values: np.ndarray) -> tuple[float, float]:
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def _scores_from_confusion(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, macro F1 (every label counts; 0 for a label neither side used, as scikit-learn's
    zero_division=0) and kappa, unweighted and quadratic, of a stack of K x K confusion matrices (rows: truth)."""
    size = confusion.shape[-1]
    total = confusion.sum(axis=(-2, -1))
    hits = np.diagonal(confusion, axis1=-2, axis2=-1)
    either = confusion.sum(axis=-1) + confusion.sum(axis=-2)  # 2 TP + FP + FN per label
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(total > 0, hits.sum(axis=-1) / total, np.nan)
        f1 = np.where(either > 0, 2 * hits / np.where(either > 0, either, 1), 0.0)
    return {
        "accuracy": accuracy,
        "macro_f1": np.where(total > 0, f1.mean(axis=-1), np.nan),
        **{
            name: np.where(
                total > 0, _kappa_from_confusion(confusion, _disagreement_weights(size, weights)), np.nan
            )
            for name, weights in (("kappa", None), ("kappa_quadratic", "quadratic"))
        },
    }


SCORES = ("accuracy", "macro_f1", "kappa", "kappa_quadratic")
TASKS = ("4grade", "binary")
_BOOT_CHUNK = 200


def _task_scores(confusion4: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    # grades 0-1 -> 0 and 2-3 -> 1: grade 2a + x becomes a
    binary_confusion = confusion4.reshape(*confusion4.shape[:-2], 2, 2, 2, 2).sum(axis=(-3, -1))
    return {"4grade": _scores_from_confusion(confusion4), "binary": _scores_from_confusion(binary_confusion)}


def rater_scores_with_intervals(
    raters: Mapping[Hashable, tuple[Sequence, Sequence[int], Sequence[int]]],
    *,
    contrasts: Sequence[tuple[Hashable, Hashable]] = (),
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Accuracy, macro F1, kappa and quadratic kappa of each rater's Kang grades against the truth, for 4
    grades and binary (grade >= 2), as (value, 95% low, 95% high); the values equal scikit-learn's.

    `raters`: rater -> (groups, truth, predicted), one item per graded level, groups its case (or patient).
    One bootstrap draw of the groups serves every rater (a paired bootstrap), so a contrast (a, b) gets an
    interval of the difference a - b too. Returns {"raters": {rater: {task: {score: (v, lo, hi)}}},
    "contrasts": {(a, b): {task: {score: (difference, lo, hi)}}}}.
    """
    units = {
        g: k for k, g in enumerate(sorted({g for groups, _, _ in raters.values() for g in groups}, key=str))
    }
    per_unit = {}
    for rater, (groups, truth, predicted) in raters.items():
        counts = np.zeros((len(units), 16))
        cells = np.asarray(truth, int) * 4 + np.asarray(predicted, int)
        np.add.at(counts, ([units[g] for g in groups], cells), 1)
        per_unit[rater] = counts
    points = {rater: _task_scores(counts.sum(0).reshape(4, 4)) for rater, counts in per_unit.items()}
    spread: dict = {rater: {task: {name: [] for name in SCORES} for task in TASKS} for rater in raters}
    if n_boot > 0 and len(units) >= 2:
        rng = np.random.default_rng(seed)
        for start in range(0, n_boot, _BOOT_CHUNK):
            size = min(_BOOT_CHUNK, n_boot - start)
            drawn = rng.integers(0, len(units), size=(size, len(units)))
            picks = (
                np.bincount(
                    (drawn + len(units) * np.arange(size)[:, None]).ravel(), minlength=size * len(units)
                )
                .reshape(size, len(units))
                .astype(float)
            )
            for rater, counts in per_unit.items():
                for task, scores in _task_scores((picks @ counts).reshape(size, 4, 4)).items():
                    for name, values in scores.items():
                        spread[rater][task][name].append(values)
    spread = {
        r: {t: {n: np.concatenate(v) if v else np.array([]) for n, v in s.items()} for t, s in tasks.items()}
        for r, tasks in spread.items()
    }

    def summary(point: float, values: np.ndarray) -> tuple[float, float, float]:
        return (float(point), *_percentile_interval(values))

    return {
        "raters": {
            r: {t: {n: summary(points[r][t][n], spread[r][t][n]) for n in SCORES} for t in TASKS}
            for r in raters
        },
        "contrasts": {
            (a, b): {
                t: {
                    n: summary(points[a][t][n] - points[b][t][n], spread[a][t][n] - spread[b][t][n])
                    for n in SCORES
                }
                for t in TASKS
            }
            for a, b in contrasts
        },
    }
