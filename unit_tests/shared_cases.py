"""The reference credential-report cases, which the project keeps beside this repository.

They live in ../shared/cases/root: one folder per case and expected.json with each case's
verdicts. A module that needs them calls `load_expected()` at import. When the folder is missing,
that module is skipped with the path in its reason and the other unit tests still run. .ci/run
fails instead, so that CI never passes without them.
"""

import json
from pathlib import Path
from typing import Any

import pytest

CASES = Path(__file__).resolve().parents[2] / "shared" / "cases" / "root"


def load_expected() -> dict[str, Any]:
    """Return the cases' expected.json, or skip the calling module when it is not found."""
    path = CASES / "expected.json"
    if not path.is_file():
        pytest.skip(
            f"the reference cases were not found at {path}; they are kept beside the repository in "
            "../shared/cases/root, and these tests need them",
            allow_module_level=True,
        )
    return json.loads(path.read_text(encoding="utf-8"))
