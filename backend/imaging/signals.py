"""What the imaging app announces to the apps above it, which it never imports (README: Architecture / layers).

Receivers are connected in the higher apps' AppConfig.ready(), so they run in INSTALLED_APPS order;
an exception in one fails the sender as it would have failed had the sender called it itself.
"""

from django.dispatch import Signal

# An ingest job has stored its files and paired the studies (sender: IngestJob; job=the job), still
# inside its try block: a receiver that raises fails the job. Reading makes the project's cases;
# learning wakes the pre-annotation of the new CT studies once the transaction commits.
ingest_finished = Signal()
