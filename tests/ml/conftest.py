import pytest

from ml.synthetic import CohortConfig, generate_cohort

TINY_SEED = 11


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory):
    """Three patients at a small image size: enough for files, geometry and schema checks."""
    out = tmp_path_factory.mktemp("cohort")
    manifest = generate_cohort(CohortConfig(out=out, patients=3, seed=TINY_SEED, image_size=128))
    return out, manifest
