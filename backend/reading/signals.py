"""What the reading app announces to the apps above it, which it never imports (README: Architecture / layers).

Receivers are connected in the higher apps' AppConfig.ready(), so they run in INSTALLED_APPS order.
"""

from django.dispatch import Signal

# A reader submitted an assignment (sender: Assignment; assignment=the assignment), sent inside the
# submission's transaction: learning queues its consensus, agreement and retraining on commit.
assignment_submitted = Signal()

# Labels were imported into a project (sender: Project; project=the project), sent inside the
# import's transaction: learning updates the project's reference labels on commit.
labels_imported = Signal()
