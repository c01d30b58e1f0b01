"""Reader scores with a paired bootstrap: the values are scikit-learn's, the intervals hold them."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score

from ml.metrics import kappa_with_interval, rater_scores_with_intervals


def _reader(rng, n: int, noise: int):
    truth = rng.integers(0, 4, n)
    given = np.clip(truth + rng.integers(-noise, noise + 1, n), 0, 3)
    return rng.integers(0, 40, n), truth, given


def test_rater_scores_equal_scikit_learn_for_four_grades_and_binary_and_contrasts_are_differences():
    rng = np.random.default_rng(3)
    raters = {"careful": _reader(rng, 240, 0), "noisy": _reader(rng, 240, 1)}
    raters["careful"][2][:20] = 3  # not perfect either
    out = rater_scores_with_intervals(raters, contrasts=[("careful", "noisy")], n_boot=400)
    for name, (_, truth, given) in raters.items():
        for task, cut, labels in (
            ("4grade", lambda g: g, [0, 1, 2, 3]),
            ("binary", lambda g: (g >= 2) * 1, [0, 1]),
        ):
            t, p = cut(truth), cut(given)
            expected = {
                "accuracy": accuracy_score(t, p),
                "macro_f1": f1_score(t, p, labels=labels, average="macro", zero_division=0),
                "kappa": cohen_kappa_score(t, p, labels=labels),
                "kappa_quadratic": cohen_kappa_score(t, p, labels=labels, weights="quadratic"),
            }
            for metric, value in expected.items():
                point, low, high = out["raters"][name][task][metric]
                assert point == pytest.approx(value) and low <= point <= high, (name, task, metric)
    difference, low, high = out["contrasts"][("careful", "noisy")]["4grade"]["accuracy"]
    careful, noisy = (
        out["raters"]["careful"]["4grade"]["accuracy"][0],
        out["raters"]["noisy"]["4grade"]["accuracy"][0],
    )
    assert difference == pytest.approx(careful - noisy) and 0 < low < difference < high


def test_no_levels_is_undefined_not_perfect():
    out = rater_scores_with_intervals({"nobody": ([], [], [])})
    assert all(
        np.isnan(v) for task in out["raters"]["nobody"].values() for score in task.values() for v in score
    )


def test_kappa_with_interval_is_scikit_learns_kappa():
    rng = np.random.default_rng(4)
    groups, truth, given = _reader(rng, 200, 1)
    value, low, high = kappa_with_interval(
        truth, given, labels=[0, 1, 2, 3], weights="quadratic", groups=groups
    )
    assert value == pytest.approx(cohen_kappa_score(truth, given, weights="quadratic")) and low < value < high
