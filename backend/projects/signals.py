"""What the projects app announces to the apps above it, which it never imports (README: Architecture / layers)."""

from django.dispatch import Signal

# A user joined a project, left it, or their role in it changed (sender: Membership; project=, user=),
# sent inside the change's transaction: reading deals the project's cases again.
membership_changed = Signal()
