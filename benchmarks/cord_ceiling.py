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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.synthetic.oracle import cord_ceiling  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cohort", type=Path, nargs="+", default=[Path("var/cohort300"), Path("var/cohort300_holdout150")]
    )
    parser.add_argument("--error-sds", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.4])
    args = parser.parse_args()
    figures = {
        str(path): cord_ceiling(json.loads((path / "manifest.json").read_text()), error_sds=args.error_sds)
        for path in args.cohort
    }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
