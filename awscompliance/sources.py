"""Choose the evidence source from the command-line options and gather every account's evidence."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from awscompliance.evidence import Evidence

logger = logging.getLogger(__name__)

# done, total, errors so far, seconds elapsed
Progress = Callable[[int, int, int, float], None]


def no_credentials_message(profile: str | None = None) -> str:
    """Return the one message that stops a live run without credentials, with the alternatives."""
    where = f" for profile {profile!r}" if profile else ""
    return (
        f"No AWS credentials were found{where}, so no account can be audited. Configure credentials "
        "(aws configure, AWS_PROFILE or environment variables), or run `pytest --demo` for the built-in "
        "simulated organization, or `pytest --credential-reports DIR` for exported credential reports."
    )


def gather_evidence(config: pytest.Config, progress: Progress | None = None) -> list[Evidence]:
    """Collect evidence from the one source the options select: demo, offline files, or live AWS.

    Raises pytest.UsageError for a problem with the options themselves (two sources at once, a
    missing path, no credentials), which stops the run with one message.
    """
    demo = config.getoption("demo")
    reports = config.getoption("credential_reports")
    profiles = _split(config.getoption("profiles"))
    chosen = [name for name, value in (("--demo", demo), ("--credential-reports", reports), ("--profiles", profiles)) if value]
    if len(chosen) > 1:
        raise pytest.UsageError(f"Choose one evidence source; got {' and '.join(chosen)}.")
    workers = config.getoption("workers")
    if workers < 1:
        raise pytest.UsageError(f"--workers must be 1 or more, got {workers}.")

    if reports:
        return _offline(Path(reports))

    from awscompliance import accounts, collect

    settings = collect.CollectSettings(report_timeout=config.getoption("report_timeout"))
    timed = _timed(progress)
    if demo:
        from awscompliance.demo import start_demo

        with start_demo() as targets:
            return collect.collect_all(targets, settings, workers=workers, progress=timed)

    try:
        targets = accounts.profile_targets(profiles) if profiles else [accounts.default_target()]
    except accounts.AccountSourceError as error:
        raise pytest.UsageError(str(error)) from None
    for profile in profiles or [None]:
        if not accounts.has_credentials(profile):
            raise pytest.UsageError(no_credentials_message(profile))
    return collect.collect_all(targets, settings, workers=workers, progress=timed)


def _offline(path: Path) -> list[Evidence]:
    from awscompliance.offline import OfflineSourceError, load_evidence

    try:
        return load_evidence(path)
    except OfflineSourceError as error:
        raise pytest.UsageError(str(error)) from None


def _timed(progress: Progress | None) -> Callable[[int, int, int], None] | None:
    if progress is None:
        return None
    started = time.monotonic()

    def report(done: int, total: int, errors: int) -> None:
        progress(done, total, errors, time.monotonic() - started)

    return report


def _split(value: str | None) -> list[str]:
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]
