"""Uncertainty scores from grade probabilities, for suggestions and active learning."""

import numpy as np

EPS = 1e-12


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Predictive entropy (nats) over the last axis."""
    p = np.clip(np.asarray(probabilities, float), EPS, 1.0)
    return -(p * np.log(p)).sum(axis=-1)


def margin(probabilities: np.ndarray) -> np.ndarray:
    """1 - (top probability - second): high when the two best grades are close."""
    top2 = np.sort(np.asarray(probabilities, float), axis=-1)[..., -2:]
    return 1.0 - (top2[..., 1] - top2[..., 0])


def mutual_information(samples: np.ndarray) -> np.ndarray:
    """BALD: entropy of the mean minus the mean entropy, over MC-dropout samples (axis 0)."""
    samples = np.asarray(samples, float)
    return entropy(samples.mean(axis=0)) - entropy(samples).mean(axis=0)
