import factory

from backend.accounts.models import Experience, Role
from backend.accounts.services import reader_create

DEFAULT_PASSWORD = "a-long-test-password-1"


class ReaderFactory(factory.Factory):
    """Readers made through the service, as the platform makes them."""

    class Meta:
        model = dict

    username = factory.Sequence(lambda n: f"reader{n}")
    password = DEFAULT_PASSWORD
    experience = Experience.JUNIOR
    role = Role.READER

    @classmethod
    def _create(cls, model_class, **kwargs):
        return reader_create(**kwargs)
