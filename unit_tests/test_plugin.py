"""Pieces of the pytest plugin that the end-to-end runs cannot check one by one."""

from dataclasses import dataclass, field
from datetime import datetime, timezone

from awscompliance import report as reporting
from awscompliance.evidence import Account, AuditSettings, Evidence
from awscompliance.plugin import ACCOUNT_PROPERTY, CONTROL_PROPERTY, ComplianceRun, _summarize_sources

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
