import pytest
from rest_framework.test import APIClient

from tests.backend.factories import ReaderFactory


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def reader(db):
    return ReaderFactory(experience="junior")


@pytest.fixture
def reader_client(reader) -> APIClient:
    client = APIClient()
    client.force_authenticate(reader.user)
    return client


@pytest.fixture(scope="session")
def loop_cohort(tmp_path_factory):
    """Eight small synthetic patients (CT + MR, manifest with truth and boxes) for the learning loop."""
    from ml.synthetic import CohortConfig, generate_cohort

    root = tmp_path_factory.mktemp("loop-cohort")
    generate_cohort(CohortConfig(out=root, patients=8, seed=5, image_size=96))
    return root


@pytest.fixture(scope="session")
def loop_checkpoint(loop_cohort, tmp_path_factory) -> str:
    """A (poor) two-stage model trained by `ml` in seconds: a first champion."""
    from ml.config import preset
    from ml.train import train

    out = tmp_path_factory.mktemp("loop-model")
    train(preset("smoke", cohort=str(loop_cohort), out=str(out), classifier_epochs=1, detector_epochs=1))
    return str(out / "model.pt")
