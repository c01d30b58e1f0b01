"""Synthetic paired CT/MRI cervical spine cohorts with known stenosis grades (numpy + pydicom)."""

from ml.synthetic.cohort import CohortConfig, generate_cohort, load_manifest
from ml.synthetic.oracle import oracle_accuracy
from ml.synthetic.readers import SimulatedReader, make_panel, make_reader, read_level

__all__ = [
    "CohortConfig",
    "SimulatedReader",
    "generate_cohort",
    "load_manifest",
    "make_panel",
    "make_reader",
    "oracle_accuracy",
    "read_level",
]
