"""The exports app's answers to what lower apps announce; connected in ExportsConfig.ready()."""

from django.conf import settings
from django.db import transaction

from backend.exports.push import result_push_finalised


def result_push_after_labels(*, project, **kwargs) -> None:
    """New reference labels: the cases now final go back to the PACS, once they are committed."""
    if settings.RESULTS_DESTINATION:
        transaction.on_commit(lambda: result_push_finalised(project=project))
