"""A split without validation levels still trains (the platform's first labels can leave it empty)."""

import numpy as np
import torch
from torch.utils.data import DataLoader

from ml.config import preset
from ml.engine import predict_probabilities
from ml.models import build_classifier
from ml.reformats import load_data
from ml.train import train


def test_predictions_of_an_empty_loader_are_empty_arrays():
    probabilities, labels = predict_probabilities(
        build_classifier("small_cnn_max"), DataLoader([]), torch.device("cpu")
    )
    assert probabilities.shape == (0, 4) and labels.shape == (0,)
    assert probabilities.dtype == np.float32 and labels.dtype == np.int64


def test_training_with_an_empty_validation_split(tiny_cohort, tmp_path):
    cohort, _ = tiny_cohort
    config = preset("smoke", cohort=str(cohort), out=str(tmp_path), classifier_epochs=1, detector_epochs=1)
    data, split = load_data(config)
    split = {**split, "train": split["train"] + split["val"], "val": []}
    result = train(config, data=(data, split))
    assert (tmp_path / "model.pt").is_file() and result["split_sizes"]["val"] == 0
    assert 0 <= result["test"]["4grade"]["accuracy"] <= 1
    epoch = torch.load(tmp_path / "model.pt", weights_only=False)["classifier"]["history"][-1]
    assert epoch["val_qwk"] is None and epoch["val_accuracy"] is None
