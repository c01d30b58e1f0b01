"""A short schemathesis run in `make test` (tests/schema_fuzz.py: as a project's admin, 3 examples per
operation, the fuzzing and stateful phases); .ci/run runs the full one (both roles, every phase, 20
examples per operation)."""

import pytest

from tests.schema_fuzz import main


@pytest.mark.slow
def test_a_short_schemathesis_run_finds_nothing(tmp_path):
    arguments = [
        "--roles",
        "admin",
        "--examples",
        "3",
        "--phases",
        "fuzzing,stateful",
        "--workdir",
        str(tmp_path),
    ]
    assert main(arguments) == 0, "schemathesis found failures: its report is in the captured output above"
