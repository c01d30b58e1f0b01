"""How much of the binary cut a CT model could gain by knowing each patient's cord AP.

.venv/bin/python benchmarks/cord_ceiling.py [--cohort var/cohort300 var/cohort300_holdout150]
Reads the synthetic manifests only (seconds). Grade >= 2 is the free canal at the level falling
under the patient's cord AP, one number along the whole spine; CT shows the canal well and the
cord faintly. Prints, per cohort, the patient-grouped cross-validated binary accuracy of a
depth-3 tree on the true canal AP at the disc alone, on the canal AP minus the true cord AP, and
on the canal AP minus a cord AP measured with Gaussian error of the given SDs (mm), so that a
cord measurement's precision can be read as points of binary accuracy.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.tree import DecisionTreeClassifier


def cord_ceiling(manifest: dict, *, error_sds: list[float], seed: int = 0) -> dict:
    canal, cord, significant, patient = [], [], [], []
    for k, p in enumerate(manifest["patients"]):
        for level in p["levels"]:
            canal.append(level["canal_ap_mm"])
            cord.append(p["cord_ap_mm"])
            significant.append(level["grade"] >= 2)
            patient.append(k)
    canal, cord, patient = np.asarray(canal), np.asarray(cord), np.asarray(patient)
    target = np.asarray(significant)

    def accuracy(feature: np.ndarray) -> float:
        tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=5, random_state=0)
        scores = cross_val_score(tree, feature[:, None], target, groups=patient, cv=GroupKFold(5))
        return round(float(scores.mean()), 4)

    rng = np.random.default_rng(seed)
    return {
        "levels": int(len(target)),
        "canal_ap_alone": accuracy(canal),
        "canal_ap_minus_true_cord_ap": accuracy(canal - cord),
        "canal_ap_minus_measured_cord_ap": {
            str(sd): accuracy(canal - cord - rng.normal(0, sd, patient.max() + 1)[patient])
            for sd in error_sds
        },
        "cord_ap_spread_sd_mm": round(float(np.std([p["cord_ap_mm"] for p in manifest["patients"]])), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cohort", type=Path, nargs="+",
                        default=[Path("var/cohort300"), Path("var/cohort300_holdout150")])  # fmt: skip
    parser.add_argument("--error-sds", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.4])
    args = parser.parse_args()
    figures = {
        str(path): cord_ceiling(json.loads((path / "manifest.json").read_text()), error_sds=args.error_sds)
        for path in args.cohort
    }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
