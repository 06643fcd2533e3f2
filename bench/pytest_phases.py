"""pytest plugin that times the phases of one compliance run, for bench/run.py.

Loaded with `-p bench.pytest_phases` from the project root. It writes a JSON object of
`time.monotonic()` readings to the file named by $BENCH_PHASES_FILE when pytest unconfigures.
On Linux that clock is the system-wide CLOCK_MONOTONIC, so run.py can compare the readings with
its own. It only reads clocks: the one wrapper it installs, around `collect_all`, calls the
original with the same arguments.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

PHASES_FILE_VARIABLE = "BENCH_PHASES_FILE"

_marks: dict[str, float] = {"plugin_loaded": time.monotonic()}


def pytest_configure(config: pytest.Config) -> None:
    from awscompliance import collect

    original = collect.collect_all

    @functools.wraps(original)
    def timed_collect_all(*args: Any, **kwargs: Any) -> Any:
        _marks["collect_all_start"] = time.monotonic()
        try:
            return original(*args, **kwargs)
        finally:
            _marks["collect_all_end"] = time.monotonic()

    # `sources` looks the function up on the module at call time, so the wrapper is what it calls.
    collect.collect_all = timed_collect_all


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> Generator[None, None, None]:
    # tryfirst makes each wrapper of this module the outermost one, so it times every implementation.
    # The compliance plugin discovers the organization and collects all evidence here.
    _marks["sessionstart_start"] = time.monotonic()
    yield
    _marks["sessionstart_end"] = time.monotonic()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_collection(session: pytest.Session) -> Generator[None, None, None]:
    _marks["test_collection_start"] = time.monotonic()
    yield
    _marks["test_collection_end"] = time.monotonic()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, None, None]:
    _marks["tests_start"] = time.monotonic()
    yield
    _marks["tests_end"] = time.monotonic()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, None, None]:
    # findings.json and the pytest-html report are written here, and the terminal reporter
    # runs the terminal summary hook from its own pytest_sessionfinish.
    _marks["sessionfinish_start"] = time.monotonic()
    yield
    _marks["sessionfinish_end"] = time.monotonic()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any) -> Generator[None, None, None]:
    # The short summary of every failure, error and skip (-rfEs), and the FAILURES section.
    _marks["terminal_summary_start"] = time.monotonic()
    yield
    _marks["terminal_summary_end"] = time.monotonic()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    _marks["unconfigure"] = time.monotonic()
    path = os.environ.get(PHASES_FILE_VARIABLE)
    if path:
        Path(path).write_text(json.dumps(_marks), encoding="utf-8")
