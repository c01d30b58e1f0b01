"""The task's ceiling on CT: how well the best simple rule on CT-visible measurements grades.

Features are what a radiologist could measure on CT at each level: canal AP at the disc, the
bony canal AP, the Torg-Pavlov ratio and the occupying ratio (cord size and cord signal are not
visible). A shallow decision tree is fitted and scored with patient-grouped cross-validation,
so the figure is an honest ceiling for a model that learns from the same cohort.
`oracle_on_patients` fits the tree on some patients and scores it on others: the ceiling on the
very levels a model's test split (or another cohort) holds, which a small split can put well
away from the cross-validated figure.
"""

from collections.abc import Collection

import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.tree import DecisionTreeClassifier

FEATURES = ("canal_ap_mm", "bony_canal_ap_mm", "torg_pavlov", "occupying_ratio")


def _levels(
    manifest: dict, patients: Collection[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(features, grades, patient of each level) of the given patients (all when None)."""
    rows, grades, groups = [], [], []
    for patient in manifest["patients"]:
        if patients is not None and patient["patient_id"] not in patients:
            continue
        for level in patient["levels"]:
            rows.append(
                [level[name] for name in FEATURES] + [level["canal_ap_mm"] / level["bony_canal_ap_mm"]]
            )
            grades.append(level["grade"])
            groups.append(patient["patient_id"])
    return np.asarray(rows).reshape(-1, len(FEATURES) + 1), np.asarray(grades), groups


def _tree(depth: int) -> DecisionTreeClassifier:
    return DecisionTreeClassifier(max_depth=depth, min_samples_leaf=5, random_state=0)


def oracle_accuracy(manifest: dict, *, depth: int = 4, folds: int = 5) -> dict[str, float]:
    features, grades, groups = _levels(manifest)
    folds = min(folds, len(set(groups)))
    if folds < 2:
        raise ValueError("the oracle needs at least two patients")
    split = GroupKFold(n_splits=folds)
    four = cross_val_predict(_tree(depth), features, grades, groups=groups, cv=split)
    binary_truth = (grades >= 2).astype(int)
    binary = cross_val_predict(_tree(depth), features, binary_truth, groups=groups, cv=split)
    return {
        "accuracy_4grade": round(float(accuracy_score(grades, four)), 4),
        "accuracy_binary": round(float(accuracy_score(binary_truth, binary)), 4),
        "accuracy_binary_from_4grade": round(float(accuracy_score(binary_truth, four >= 2)), 4),
        "n_levels": int(len(grades)),
        "features": [*FEATURES, "canal_ap_over_bony_ap"],
    }


def oracle_on_patients(
    manifest: dict,
    *,
    fit_on: Collection[str],
    score_on: Collection[str] | None = None,
    score_manifest: dict | None = None,
    depth: int = 4,
) -> dict[str, float]:
    """The tree fitted on `fit_on`'s levels, scored on `score_on`'s (of `score_manifest`, default
    the same cohort; all its patients when score_on is None)."""
    features, grades, _ = _levels(manifest, set(fit_on))
    scored, truth, _ = _levels(score_manifest or manifest, None if score_on is None else set(score_on))
    if not len(grades) or not len(truth):
        raise ValueError("the oracle needs levels to fit on and levels to score")
    four = _tree(depth).fit(features, grades).predict(scored)
    binary = _tree(depth).fit(features, grades >= 2).predict(scored)
    return {
        "accuracy_4grade": round(float(accuracy_score(truth, four)), 4),
        "accuracy_binary": round(float(accuracy_score(truth >= 2, binary)), 4),
        "n_levels": int(len(truth)),
    }


def canal_cut_on_patients(
    manifest: dict,
    *,
    fit_on: Collection[str],
    score_on: Collection[str] | None = None,
    score_manifest: dict | None = None,
) -> dict[str, float]:
    """The binary task from one true CT measurement: "significant" when the canal AP at the disc is
    under the cut that grades `fit_on`'s levels best, scored like `oracle_on_patients`. What a
    perfect caliper on the CT gets; a model that beats it sees something of the cord."""
    fitted, grades, _ = _levels(manifest, set(fit_on))
    scored, truth, _ = _levels(score_manifest or manifest, None if score_on is None else set(score_on))
    if not len(grades) or not len(truth):
        raise ValueError("the cut needs levels to fit on and levels to score")
    column = FEATURES.index("canal_ap_mm")
    canal, significant = fitted[:, column], grades >= 2
    values = np.unique(canal)
    candidates = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2, [values[-1] + 1.0]])
    hits = [((canal < cut) == significant).mean() for cut in candidates]
    best = candidates[np.flatnonzero(np.isclose(hits, max(hits)))]
    cut = float(np.median(best))
    return {
        "cut_mm": round(cut, 2),
        "accuracy_binary": round(float(((scored[:, column] < cut) == (truth >= 2)).mean()), 4),
        "n_levels": int(len(truth)),
    }


def cord_ceiling(
    manifest: dict, *, error_sds: Collection[float] = (), depth: int = 3, folds: int = 5, seed: int = 0
) -> dict:
    """What knowing each patient's cord AP (invisible to the oracle) is worth on the binary task.

    Grade >= 2 is the free canal at the level falling under the patient's cord AP, one number along
    the spine. Cross-validated binary accuracy of a tree on the canal AP at the disc alone, on the
    canal AP minus the true cord AP, and minus a cord AP measured with Gaussian error of each SD
    (mm, one draw per patient): a cord measurement's precision in points of binary accuracy."""
    features, grades, groups = _levels(manifest)
    cord_of = {p["patient_id"]: p["cord_ap_mm"] for p in manifest["patients"]}
    patients, patient = np.unique(groups, return_inverse=True)
    canal = features[:, FEATURES.index("canal_ap_mm")]
    cord = np.array([cord_of[pid] for pid in patients])[patient]
    split = GroupKFold(n_splits=min(folds, len(patients)))

    def accuracy(feature: np.ndarray) -> float:
        predicted = cross_val_predict(_tree(depth), feature[:, None], grades >= 2, groups=groups, cv=split)
        return round(float(accuracy_score(grades >= 2, predicted)), 4)

    rng = np.random.default_rng(seed)
    return {
        "levels": int(len(grades)),
        "canal_ap_alone": accuracy(canal),
        "canal_ap_minus_true_cord_ap": accuracy(canal - cord),
        "canal_ap_minus_measured_cord_ap": {
            str(sd): accuracy(canal - cord - rng.normal(0, sd, len(patients))[patient]) for sd in error_sds
        },
        "cord_ap_spread_sd_mm": round(float(np.std(list(cord_of.values()))), 3),
    }
