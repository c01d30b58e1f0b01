"""The canal-profile classifier: it measures the canal's width as a caliper would, and the "auto"
classifier gives it to a project with few labels and the CNN to one with many."""

import numpy as np
import pytest
import torch

from ml.config import CNN_FROM_TRAINING_LEVELS, preset, resolve_classifier
from ml.data import ROI_WINDOWS, to_channels
from ml.imaging import REFORMAT_SPACING_MM
from ml.models import build_classifier
from ml.models.canal_profile import canal_measure

ROWS, COLS = 48, 64


def sagittal_crop(*, canal_mm: float, disc_canal_mm: float, canal_hu: float = 8.0) -> np.ndarray:
    """A crop in HU: bone (400) around a canal of canal_mm, narrowed by a disc (80 HU) to
    disc_canal_mm in the middle rows; the canal centred on the crop's centre column."""
    hu = np.full((ROWS, COLS), 400.0, np.float32)
    half = canal_mm / REFORMAT_SPACING_MM / 2
    hu[:, round(COLS / 2 - half) : round(COLS / 2 + half)] = canal_hu
    narrowing = (canal_mm - disc_canal_mm) / REFORMAT_SPACING_MM
    hu[20:28, round(COLS / 2 - half) : round(COLS / 2 - half + narrowing)] = 80.0  # the disc's bulge
    return hu


def measured(*crops: np.ndarray) -> torch.Tensor:
    return canal_measure(torch.from_numpy(np.stack([to_channels(c, ROI_WINDOWS) for c in crops])))


@pytest.mark.parametrize(("canal", "at_disc"), [(14.0, 13.0), (12.0, 6.0), (10.0, 3.0)])
def test_the_narrowest_width_at_the_disc_is_the_canal_left_beside_the_bulge(canal, at_disc):
    features = measured(sagittal_crop(canal_mm=canal, disc_canal_mm=at_disc))[0]
    narrowest, widest = features[0].item(), features[4].item()  # first cut-off: narrowest in band, widest
    assert narrowest == pytest.approx(at_disc, abs=1.0)
    assert widest == pytest.approx(canal, abs=1.0)


def test_csf_share_falls_as_the_cord_fills_the_canal():
    csf, cord = measured(
        sagittal_crop(canal_mm=14, disc_canal_mm=14, canal_hu=5.0),
        sagittal_crop(canal_mm=14, disc_canal_mm=14, canal_hu=27.0),
    )[:, -1]
    assert csf.item() > 0.9 and cord.item() < 0.1


def test_a_lone_sample_trains_and_mc_dropout_samples_vary():
    model = build_classifier("canal_profile").train()
    crop = torch.from_numpy(to_channels(sagittal_crop(canal_mm=12, disc_canal_mm=7), ROI_WINDOWS))[None]
    model(crop).sum().backward()  # batch statistics of one sample would raise
    model.eval()
    model.head[0].train()
    draws = torch.stack([torch.softmax(model(crop), 1) for _ in range(8)])
    assert draws.std(0).max() > 0


def test_auto_picks_the_profile_model_for_few_labels_and_the_cnn_for_many():
    config = preset("fast")
    assert config.classifier == "auto"
    few = resolve_classifier(config, training_levels=CNN_FROM_TRAINING_LEVELS - 1)
    many = resolve_classifier(config, training_levels=CNN_FROM_TRAINING_LEVELS)
    assert (few.classifier, many.classifier) == ("canal_profile", "small_cnn_max")
    named = resolve_classifier(preset("fast", classifier="resnet18"), training_levels=10)
    assert named.classifier == "resnet18"
