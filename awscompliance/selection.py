"""The options that chose a run's compliance tests (-k, -m, --deselect and test paths), for the reports."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest


def describe_selection(config: pytest.Config) -> dict[str, Any]:
    """Return the options that choose which tests run, as findings.json records them.

    `paths` are the test paths pytest collected from, as given or taken from `testpaths`.
    """
    return {
        "keyword": config.option.keyword or None,
        "markers": config.option.markexpr or None,
        "deselect": [str(prefix) for prefix in config.getoption("deselect") or []],
        "paths": [str(argument) for argument in config.args],
    }


def selection_filters(selection: dict[str, Any], tests_dir: Path, invocation_dir: Path) -> list[str]:
    """Return the options of `selection` that can leave compliance tests out, as command-line text.

    A test path leaves tests out unless it is `tests_dir` or a folder above it.
    """
    filters = []
    if selection["keyword"]:
        filters.append(f"-k {shlex.quote(selection['keyword'])}")
    if selection["markers"]:
        filters.append(f"-m {shlex.quote(selection['markers'])}")
    filters += [f"--deselect {shlex.quote(prefix)}" for prefix in selection["deselect"]]
    tests_dir = tests_dir.resolve()
    for argument in selection["paths"]:
        path = resolve_test_path(invocation_dir, argument)
        if "::" in argument or not (path == tests_dir or path in tests_dir.parents):
            filters.append(argument)
    return filters


def resolve_test_path(invocation_dir: Path, argument: str) -> Path:
    """Return the file or folder of a test path argument, which may end in a node id such as `::test_x`."""
    return (invocation_dir / argument.split("::")[0]).resolve()
