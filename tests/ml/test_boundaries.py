"""ml/ is a pure PyTorch/numpy package: it must never import Django, DRF, Celery or the backend."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import ml

FORBIDDEN = ("django", "rest_framework", "celery", "kombu", "backend")
ML_DIR = Path(ml.__file__).parent


def test_no_ml_module_imports_django_drf_celery_or_backend():
    offenders = []
    for path in ML_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert not offenders, offenders


def test_importing_every_ml_module_loads_no_web_framework():
    modules = [
        m.name for m in pkgutil.walk_packages([str(ML_DIR)], prefix="ml.") if not m.name.endswith("__main__")
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {['ml', *modules]!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_the_web_process_does_not_load_pytorch():
    """Django's URLconf and WSGI app come up without torch: it would cost every web worker ~700 MB."""
    code = (
        "import os, sys\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'backend.config.settings')\n"
        "import django; django.setup()\n"
        "import backend.config.wsgi\n"
        "from django.urls import get_resolver\n"
        "get_resolver().url_patterns\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ML_DIR.parent
    )
    assert result.returncode == 0, result.stderr
