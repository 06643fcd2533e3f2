"""Every shared credential-report case gives its expected verdict for each root control."""

from datetime import datetime

import pytest

from awscompliance.catalog import CONTROLS
from awscompliance.evidence import AuditSettings
from awscompliance.offline import load_evidence
from unit_tests.shared_cases import CASES, load_expected

EXPECTED = load_expected()
SETTINGS = AuditSettings(
    as_of=datetime.fromisoformat(EXPECTED["as_of"].replace("Z", "+00:00")),
    root_usage_days=EXPECTED["root_usage_days"],
)


@pytest.fixture(scope="module")
def evidence_by_account():
    # The cases are audited as one folder, as a user would run them.
    loaded = load_evidence(CASES)
    return {item.account_id: item for item in loaded}


def test_every_case_loaded_once(evidence_by_account):
    assert sorted(evidence_by_account) == sorted(EXPECTED["accounts"])


@pytest.mark.parametrize(
    ("account_id", "control_id"),
    [(account_id, control_id) for account_id, case in EXPECTED["accounts"].items() for control_id in case["expected"]],
    ids=lambda value: EXPECTED["accounts"][value]["case"] if value in EXPECTED["accounts"] else value,
)
def test_case_verdict(evidence_by_account, account_id, control_id):
    expected = EXPECTED["accounts"][account_id]["expected"][control_id]
    verdict = CONTROLS[control_id].evaluate(evidence_by_account[account_id], SETTINGS)

    assert verdict.status.value == expected, verdict.message
    assert verdict.message
