"""Root in its organization: centralized root access and the SCPs that guard root.

These need the organization context that --org collects; other sources skip them with the
reason. PYTEST_DONT_REWRITE: a failure shows only the verdict's message.
"""

import pytest

from awscompliance.evidence import Status


@pytest.mark.control("root-credentials-centralized")
def test_member_root_credentials_removed_centrally(verdict):
    assert verdict.status is Status.PASS, verdict.message


@pytest.mark.control("root-mfa-enforced")
def test_root_cannot_act_without_mfa(verdict):
    assert verdict.status is Status.PASS, verdict.message


@pytest.mark.control("root-ip-restricted")
def test_root_restricted_to_known_networks(verdict):
    assert verdict.status is Status.PASS, verdict.message
