"""A throw-away platform for a benchmark: its own SQLite database, media and var folders under a
temporary folder, so that a run never touches `var/` or a developer's data."""

import os
import tempfile
from pathlib import Path


def throwaway_env(tmp: Path, **extra: str) -> dict:
    """The environment of a platform living under `tmp` (for this process or a subprocess)."""
    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="backend.config.settings",
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp / "media"),
        VAR_DIR=str(tmp / "var"),
        ALLOWED_HOSTS="testserver",  # Django's test client
        **extra,
    )


def throwaway_django(prefix: str, **extra: str) -> Path:
    """Set this process up on a new throw-away platform, migrated; returns its folder."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update(throwaway_env(tmp, **extra))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return tmp
