"""Would anyone notice root use? A CloudWatch alarm, GuardDuty and AWS Config rules.

They need the detection evidence that live collection reads in the home Region (--region);
offline reports hold none and skip them with the reason. PYTEST_DONT_REWRITE: a failure shows
only the verdict's message.
"""

import pytest

from awscompliance.evidence import Status


@pytest.mark.control("root-use-alarm")
def test_root_use_raises_alarm(verdict):
    assert verdict.status is Status.PASS, verdict.message


@pytest.mark.control("root-use-detected-by-guardduty")
def test_guardduty_detects_root_use(verdict):
    assert verdict.status is Status.PASS, verdict.message


@pytest.mark.control("root-config-rules")
def test_config_rules_watch_root(verdict):
    assert verdict.status is Status.PASS, verdict.message
