"""What the learning app announces to the apps above it, which it never imports.

Receivers are connected in the higher apps' AppConfig.ready().
"""

from django.dispatch import Signal

# A project's reference labels were recomputed (sender: Project; project=the project), sent after
# they are saved: exports pushes the results of cases that are now final.
reference_labels_updated = Signal()
