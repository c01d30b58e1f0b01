"""The import contract of pyproject.toml ([tool.importlinter]): apps import only downwards, `ml`
stands alone, no circles. lint-imports checks it; these tests make sure it passes and still bites."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_import_contract_holds():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("backend/imaging/models.py", "from backend.exports import formats", "backend apps import only"),
        ("ml/metrics.py", "import django", "ml stands alone"),
        ("backend/learning/models.py", "from backend.learning import tasks", "no import circles"),
    ],
)
def test_a_new_upward_import_or_circle_breaks_it(tmp_path, module, line, broken):
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for package in ("backend", "ml"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / module
    target.write_text(f"{line}  # noqa\n{target.read_text()}")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert re.search(rf"^{re.escape(broken)}.* BROKEN", result.stdout, re.MULTILINE), result.stdout
