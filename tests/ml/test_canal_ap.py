"""The model's canal AP diameter: measured on the crop, fitted to known diameters when there are enough."""

import numpy as np
import pytest

from ml.canal_ap import MIN_LEVELS_TO_FIT, CanalApEstimator, canal_features
from ml.data import crop_roi, load_synthetic_cohort
from ml.imaging import load_ct_volume, sagittal_reformat
from ml.models.canal_profile import CANAL_AP_FEATURE, CANAL_FEATURES


def test_the_unfitted_estimate_reads_the_synthetic_canal_within_a_millimetre(tiny_cohort):
    cohort, _ = tiny_cohort
    errors = []
    for record in load_synthetic_cohort(cohort):
        image = sagittal_reformat(load_ct_volume(record.ct_files)).image
        crops = np.stack([crop_roi(image, record.boxes[level]) for level in record.canal_ap_mm])
        estimate = CanalApEstimator().predict(canal_features(crops))
        errors += list(np.abs(estimate - np.array(list(record.canal_ap_mm.values()))))
    assert len(errors) == 18 and np.mean(errors) < 1.2, errors


def test_fitting_learns_a_calibration_and_survives_a_checkpoint():
    rng = np.random.default_rng(0)
    features = rng.normal(8, 2, size=(60, len(CANAL_FEATURES)))
    truth = 0.8 * features[:, 3] - 0.5 * features[:, 0] + 2.0
    fitted = CanalApEstimator.fit(features, truth)
    assert fitted.fitted_on == 60
    assert np.abs(fitted.predict(features) - truth).mean() < 0.1
    restored = CanalApEstimator.from_dict(fitted.as_dict())
    assert np.allclose(restored.predict(features), fitted.predict(features))


def test_too_few_known_diameters_keep_the_plain_measurement():
    features = np.random.default_rng(1).normal(8, 2, size=(MIN_LEVELS_TO_FIT - 1, len(CANAL_FEATURES)))
    estimator = CanalApEstimator.fit(features, np.ones(len(features)))
    assert estimator.coef is None and estimator.fitted_on == 0
    assert estimator.predict(features) == pytest.approx(features[:, CANAL_AP_FEATURE])
    assert CanalApEstimator.from_dict(None) == CanalApEstimator()
