"""Fixtures of the compliance tests; the work is done in the awscompliance package.

The plugin's options and hooks (awscompliance/plugin.py) are loaded through the package's pytest11
entry point, which `pip install -r requirements.txt` installs, so pytest has the options before
it reads the command line.

`evidence` is parametrized over the audited accounts (the test id is the account id and its alias
or profile); all evidence is collected once, before the tests run. `verdict` judges that evidence
with the control named by the test's `control` marker.
"""

import pytest

from awscompliance.evidence import Evidence, Status, Verdict
from awscompliance.plugin import AccountEvidenceError, get_run


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """The evidence collected for one account (from the session-wide cache)."""
    return get_run(request.config).evidence[request.param]


@pytest.fixture
def verdict(request: pytest.FixtureRequest, evidence: Evidence) -> Verdict:
    """The control's verdict for the account; an error or skip ends the test here, in setup."""
    result = get_run(request.config).evaluate(request.node, evidence)
    if result.status is Status.ERROR:
        raise AccountEvidenceError(result.message)
    if result.status is Status.SKIP:
        pytest.skip(result.message)
    return result
