"""The task's ceiling on CT: how well the best simple rule on CT-visible measurements grades.

Features are what a radiologist could measure on CT at each level: canal AP at the disc, the
bony canal AP, the Torg-Pavlov ratio and the occupying ratio (cord size and cord signal are not
visible). A shallow decision tree is fitted and scored with patient-grouped cross-validation,
so the figure is an honest ceiling for a model that learns from the same cohort.
"""

import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.tree import DecisionTreeClassifier

FEATURES = ("canal_ap_mm", "bony_canal_ap_mm", "torg_pavlov", "occupying_ratio")


def oracle_accuracy(manifest: dict, *, depth: int = 4, folds: int = 5) -> dict[str, float]:
    rows, grades, groups = [], [], []
    for patient in manifest["patients"]:
        for level in patient["levels"]:
            rows.append(
                [level[name] for name in FEATURES] + [level["canal_ap_mm"] / level["bony_canal_ap_mm"]]
            )
            grades.append(level["grade"])
            groups.append(patient["patient_id"])
    features, grades = np.asarray(rows), np.asarray(grades)
    folds = min(folds, len(set(groups)))
    if folds < 2:
        raise ValueError("the oracle needs at least two patients")
    split = GroupKFold(n_splits=folds)
    tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=5, random_state=0)
    four = cross_val_predict(tree, features, grades, groups=groups, cv=split)
    binary_truth = (grades >= 2).astype(int)
    binary = cross_val_predict(tree, features, binary_truth, groups=groups, cv=split)
    return {
        "accuracy_4grade": round(float(accuracy_score(grades, four)), 4),
        "accuracy_binary": round(float(accuracy_score(binary_truth, binary)), 4),
        "accuracy_binary_from_4grade": round(float(accuracy_score(binary_truth, four >= 2)), 4),
        "n_levels": int(len(grades)),
        "features": [*FEATURES, "canal_ap_over_bony_ap"],
    }
