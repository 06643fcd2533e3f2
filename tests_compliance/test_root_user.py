"""Root-user best practices, one test per control, each run once per audited account.

The rules live in awscompliance/controls/root.py; a failing test's message is the verdict's
message, naming the evidence and the fix. PYTEST_DONT_REWRITE: without assertion rewriting, a
failure shows only that message rather than the repr of the whole verdict.
"""

import pytest

from awscompliance.evidence import Status


@pytest.mark.control("root-usage")
def test_root_user_not_used_recently(verdict):
    assert verdict.status is Status.PASS, verdict.message


@pytest.mark.control("root-access-key")
def test_root_has_no_access_key(verdict):
    assert verdict.status is Status.PASS, verdict.message


@pytest.mark.control("root-mfa")
def test_root_has_mfa(verdict):
    assert verdict.status is Status.PASS, verdict.message


@pytest.mark.control("root-hardware-mfa")
def test_root_has_hardware_mfa(verdict):
    assert verdict.status is Status.PASS, verdict.message
