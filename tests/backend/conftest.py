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
