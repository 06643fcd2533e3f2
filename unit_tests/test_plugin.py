"""Pieces of the pytest plugin that the end-to-end runs cannot check one by one."""

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from pytest_html.basereport import _process_logs

from awscompliance import report as reporting
from awscompliance.evidence import Account, AuditSettings, Evidence
from awscompliance.plugin import ACCOUNT_PROPERTY, CONTROL_PROPERTY, FINDING_PROPERTY, ComplianceRun, _summarize_sources

MARKUP = '<img src=x onerror="alert(1)">'


@dataclass
class FakeReport:
    nodeid: str
    when: str = "call"
    user_properties: list = field(default_factory=list)


def test_table_row_escapes_test_id_and_account():
    run = ComplianceRun(config=None, settings=AuditSettings(as_of=datetime(2026, 6, 1, tzinfo=timezone.utc)))
    label = f"111122223333-{MARKUP}"
    run.evidence[label] = Evidence(account=Account("111122223333", "demo", name=MARKUP))
    report = FakeReport(
        nodeid=f"tests_compliance/test_root_user.py::test_root_has_mfa[{label}]",
        user_properties=[(ACCOUNT_PROPERTY, label), (CONTROL_PROPERTY, "root-mfa")],
    )
    cells = ['<td class="col-result">Passed</td>', f'<td class="col-testId">{report.nodeid}</td>', "<td>0 ms</td>"]

    run.pytest_html_results_table_row(report, cells)

    assert all("<img" not in cell for cell in cells)
    assert "&lt;img" in cells[1]
    assert "&lt;img" in cells[2]


def test_sources_summary_counts_the_rest():
    sources = [f"profile p{index:02d}" for index in range(12)]

    assert _summarize_sources(sources) == ", ".join(sources[:10]) + " and 2 more"
    assert _summarize_sources(["demo", "demo"]) == "demo"


def test_problem_lines_list_errors_then_failures():
    findings = [
        ("222-b", {"control": "root-mfa", "status": "fail", "message": "no MFA"}),
        ("111-a", {"control": "root-mfa", "status": "pass", "message": "MFA on"}),
        ("111-a", {"control": "root-usage", "status": "error", "message": "denied"}),
        ("111-a", {"control": "root-access-key", "status": "fail", "message": "key 1"}),
        ("333-c", {"control": "root-mfa", "status": "skip", "message": "n/a"}),
    ]

    assert reporting.problem_lines(findings) == [
        "ERROR root-usage 111-a: denied",
        "FAIL  root-access-key 111-a: key 1",
        "FAIL  root-mfa 222-b: no MFA",
    ]


NODE_ID = "tests_compliance/test_root_user.py::test_root_has_mfa[111122223333]"


def compliance_report(outcome, when, longrepr, finding=None, sections=()):
    """Build a test report as the plugin leaves it, with the finding's status and message."""
    properties = [(ACCOUNT_PROPERTY, "111122223333"), (CONTROL_PROPERTY, "root-mfa")]
    if finding is not None:
        status, message = finding
        properties.append((FINDING_PROPERTY, {"control": "root-mfa", "status": status, "message": message}))
    location = ("tests_compliance/test_root_user.py", 25, "test_root_has_mfa[111122223333]")
    return pytest.TestReport(NODE_ID, location, {}, outcome, longrepr, when, sections, user_properties=properties)


def html_log(report):
    """Return the log that pytest-html 4.2.0 shows under a row, after the plugin's hook."""
    run = ComplianceRun(config=None, settings=AuditSettings(as_of=datetime(2026, 6, 1, tzinfo=timezone.utc)))
    data = _process_logs(report)
    run.pytest_html_results_table_html(report, data)
    return "".join(data)


def test_html_log_failed_verdict_once():
    message = "The root user has no MFA device <none>."
    log = html_log(compliance_report("failed", "call", message, ("fail", message)))

    assert log.count(html.escape(message)) == 1
    assert log.startswith(html.escape(f"Verdict: fail. {message}"))


def test_html_log_errored_verdict_once():
    message = "GetCredentialReport failed: AccessDenied."
    log = html_log(compliance_report("failed", "setup", message, ("error", message)))

    assert log.count(html.escape(message)) == 1
    assert log.startswith(html.escape(f"Verdict: error. {message}"))


def test_html_log_keeps_traceback_of_test_bug():
    message = "The root user has no MFA device."
    traceback = "def test_root_has_mfa(verdict):\n>       verdict.mesage\nE       AttributeError: mesage"
    log = html_log(compliance_report("failed", "call", traceback, ("fail", message)))

    assert log.startswith(html.escape(f"Verdict: fail. {message}"))
    assert "AttributeError: mesage" in log


def test_html_log_keeps_captured_output():
    message = "The root user has no MFA device."
    report = compliance_report("failed", "call", message, ("fail", message), sections=[("Captured log call", "WARNING x")])
    log = html_log(report)

    assert log.count(message) == 1
    assert "WARNING x" in log


def test_html_log_passed_verdict():
    message = "The root user has an MFA device."
    log = html_log(compliance_report("passed", "call", None, ("pass", message)))

    assert log == html.escape(f"Verdict: pass. {message}") + "\n"


def test_html_log_skip_reason_readable():
    message = "Not applicable: SCPs never apply to the management account."
    longrepr = ("/work/project/tests_compliance/test_root_user.py", 25, f"Skipped: {message}")
    log = html_log(compliance_report("skipped", "setup", longrepr, ("skip", message)))

    assert log == html.escape(f"Verdict: skip. {message}") + "\n"


def test_html_log_skip_without_verdict_readable():
    longrepr = ("/work/project/tests_compliance/test_root_user.py", 25, "Skipped: needs a newer moto")
    log = html_log(compliance_report("skipped", "setup", longrepr))

    assert log == "Skipped: needs a newer moto\n"


@dataclass
class WorkerNode:
    # pytest puts this line first in the text of a report that a pytest-xdist worker sent.
    _workerinfocache: str = "[gw0] linux -- Python 3.11.7 /usr/bin/python"


@pytest.mark.parametrize(
    ("outcome", "when", "status"),
    [("failed", "call", "fail"), ("failed", "setup", "error"), ("skipped", "setup", "skip")],
    ids=["fail", "error", "skip"],
)
def test_html_log_from_xdist_worker_once(outcome, when, status):
    message = "Not applicable: no organization."
    if status == "skip":
        longrepr = ("/work/project/tests_compliance/test_root_user.py", 25, f"Skipped: {message}")
    else:
        longrepr = message
    report = compliance_report(outcome, when, longrepr, (status, message))
    report.node = WorkerNode()
    log = html_log(report)

    assert log == html.escape(f"Verdict: {status}. {message}") + "\n"


def test_html_log_passed_on_xdist_worker():
    message = "The root user has an MFA device."
    report = compliance_report("passed", "call", None, ("pass", message))
    report.node = WorkerNode()
    log = html_log(report)

    assert log == html.escape(f"Verdict: pass. {message}") + "\n"
