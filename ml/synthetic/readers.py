"""Simulated readers: radiologists of a given experience grading the levels of the cohort.

A reader perceives each level's latent severity (0..4, whose floor is the true grade) with
Gaussian noise and a personal bias, and reports the floor. Errors therefore fall near grade
borders and are mostly one grade off; juniors are noisier and more biased than seniors. With the
defaults, senior-senior kappa is about 0.8 and junior-senior about 0.65-0.7 (unweighted).
Each grade depends only on (seed, reader, patient, level), whatever the reading order.
"""

import zlib
from dataclasses import dataclass

import numpy as np

NOISE_SD = {"senior": 0.17, "junior": 0.34}
BIAS_SD = {"senior": 0.05, "junior": 0.16}


@dataclass(frozen=True)
class SimulatedReader:
    name: str
    experience: str  # "junior" | "senior"
    noise_sd: float
    bias: float


def _key(*parts: object) -> list[int]:
    return [zlib.crc32(str(part).encode()) for part in parts]


def make_reader(name: str, experience: str, *, seed: int) -> SimulatedReader:
    if experience not in NOISE_SD:
        raise ValueError(f"experience must be one of {sorted(NOISE_SD)}, got {experience!r}")
    rng = np.random.default_rng(_key(seed, "bias", name))
    return SimulatedReader(name, experience, NOISE_SD[experience], float(rng.normal(0, BIAS_SD[experience])))


def make_panel(*, seniors: int = 2, juniors: int = 2, seed: int = 0) -> list[SimulatedReader]:
    return [make_reader(f"senior_{k + 1}", "senior", seed=seed) for k in range(seniors)] + [
        make_reader(f"junior_{k + 1}", "junior", seed=seed) for k in range(juniors)
    ]


def read_level(reader: SimulatedReader, *, severity: float, patient_id: str, level: str, seed: int) -> int:
    """The grade this reader gives this level."""
    rng = np.random.default_rng(_key(seed, reader.name, patient_id, level))
    perceived = severity + reader.bias + rng.normal(0.0, reader.noise_sd)
    return int(np.clip(np.floor(perceived), 0, 3))
