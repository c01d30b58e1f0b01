"""Inference latency per CT study (six levels) on this machine, against the bare forward passes.

.venv/bin/python benchmarks/ml_inference.py --checkpoint var/models/default300/model.pt --cohort var/cohort300
Goal: <= 1 s per study (median) on 2 CPU cores. "bare" times only the detector's and the
classifier's forward passes on ready tensors; the ratio shows what reading DICOM, the reformat,
post-processing and cropping add.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ml.data import crop_roi, load_cohort, to_channels  # noqa: E402
from ml.imaging import load_ct_volume, sagittal_reformat  # noqa: E402
from ml.predict import Predictor  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--cohort", required=True)
    parser.add_argument("--studies", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mc-samples", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    predictor = Predictor.from_checkpoint(args.checkpoint, device="cpu")
    records = load_cohort(args.cohort)[: args.studies]
    predictor.predict_study(records[0].ct_files)  # warm-up

    full, bare, load = [], [], []
    for record in records:
        started = time.perf_counter()
        levels = predictor.predict_study(record.ct_files, mc_samples=args.mc_samples)
        full.append(time.perf_counter() - started)

        started = time.perf_counter()
        image = sagittal_reformat(load_ct_volume(record.ct_files)).image
        load.append(time.perf_counter() - started)
        tensor = torch.from_numpy(to_channels(image))
        crops = torch.from_numpy(np.stack([crop_roi(image, lv.box, roi=predictor.roi) for lv in levels]))
        with torch.no_grad():
            started = time.perf_counter()
            predictor.detector([tensor])
            predictor.classifier(crops)
            bare.append(time.perf_counter() - started)
    result = {
        "studies": len(records),
        "threads": args.threads,
        "mc_samples": args.mc_samples,
        "median_seconds_per_study": round(statistics.median(full), 3),
        "p90_seconds_per_study": round(float(np.percentile(full, 90)), 3),
        "median_bare_forward_seconds": round(statistics.median(bare), 3),
        "median_dicom_and_reformat_seconds": round(statistics.median(load), 3),
        "ratio_full_to_bare": round(statistics.median(full) / statistics.median(bare), 2),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
