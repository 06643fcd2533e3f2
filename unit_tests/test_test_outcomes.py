"""Runs whose tests do not end as their verdicts: findings, exit code and completeness must still be right.

Each test writes its own credential reports, so it needs no reference cases.
"""

import json
from pathlib import Path

import pytest

from unit_tests.reports import report_csv, root_row

PROJECT = Path(__file__).resolve().parents[1]
AS_OF = "2026-06-01T00:00:00Z"


def write_report(folder: Path, account_id: str, mfa_active: str) -> None:
    """Write a report whose root has the given mfa_active."""
    folder.mkdir(parents=True)
    (folder / "credential_report.csv").write_text(report_csv(root_row(account_id, mfa_active=mfa_active)), encoding="utf-8")


def write_own_tests(pytester, source):
    """Write test_own.py (SOURCE) beside a copy of the project's conftest."""
    pytester.makeconftest((PROJECT / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_own=source)


def run_own_tests(pytester, tmp_path, source, *options):
    """Run test_own.py (SOURCE) beside the project's conftest, and return the result and findings.json."""
    write_own_tests(pytester, source)
    findings = tmp_path / "findings.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--findings-json", str(findings), "--as-of", AS_OF, *options
    )
    return result, json.loads(findings.read_text(encoding="utf-8"))


ACCEPTED_VIOLATION = '''
import pytest
from awscompliance.evidence import Status


@pytest.mark.xfail(reason="accepted")
@pytest.mark.control("root-mfa")
def test_root_has_mfa_xfail(verdict):
    assert verdict.status is Status.PASS, verdict.message


@pytest.mark.control("root-mfa")
def test_root_has_mfa_without_assert(verdict):
    verdict.status is Status.PASS
'''


def test_failed_finding_fails_exit_code(pytester, tmp_path):
    reports = tmp_path / "reports"
    write_report(reports / "no-mfa", "444400000002", "false")

    result, document = run_own_tests(pytester, tmp_path, ACCEPTED_VIOLATION, f"--credential-reports={reports}")

    assert [finding["status"] for finding in document["findings"]] == ["fail", "fail"]
    assert result.ret == pytest.ExitCode.TESTS_FAILED


# Thirty failing tests, so that -x under pytest-xdist leaves some of them unrun (28 in three runs).
MANY_FAILING_TESTS = "import pytest\nfrom awscompliance.evidence import Status\n" + "".join(
    f"""

@pytest.mark.control("root-mfa")
def test_root_has_mfa_{index}(verdict):
    assert verdict.status is Status.PASS, verdict.message
"""
    for index in range(30)
)


def test_xdist_stop_non_ascii_account_incomplete(pytester, tmp_path):
    reports = tmp_path / "reports"
    # pytest would escape "é" in a test id, so the plugin gives such a test an ASCII id it maps back.
    write_report(reports / "prod-é", "444400000003", "false")

    result, document = run_own_tests(
        pytester, tmp_path, MANY_FAILING_TESTS, f"--credential-reports={reports}", "-n", "2", "-x"
    )

    assert result.ret == pytest.ExitCode.INTERRUPTED
    # Each of the 30 selected tests must show up, as a finding or in not_run.
    assert len(document["findings"]) + len(document["not_run"]) == 30, document
    assert document["complete"] is False


def test_collect_only_html_has_no_summary(pytester, tmp_path):
    reports = tmp_path / "reports"
    write_report(reports / "no-mfa", "444400000004", "false")
    html = tmp_path / "collected.html"
    write_own_tests(pytester, MANY_FAILING_TESTS)

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--collect-only", "--as-of", AS_OF, f"--credential-reports={reports}", f"--html={html}"
    )

    assert result.ret == pytest.ExitCode.OK
    page = html.read_text(encoding="utf-8")
    assert "Fleet summary" not in page


def test_keyword_selection_is_incomplete(pytester, tmp_path):
    reports = tmp_path / "reports"
    write_report(reports / "no-mfa", "444400000005", "false")

    result, document = run_own_tests(
        pytester, tmp_path, MANY_FAILING_TESTS, f"--credential-reports={reports}", "-k", "test_root_has_mfa_1"
    )

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # One account has findings for one control of the catalog: the others were left out by -k.
    assert document["missing_findings"] > 0
    assert document["complete"] is False


OTHER_WAYS_TO_END = '''
import pytest
from awscompliance.evidence import Status


@pytest.mark.skip(reason="not in scope")
@pytest.mark.control("root-mfa")
def test_skipped_by_marker(verdict):
    assert verdict.status is Status.PASS, verdict.message


@pytest.mark.control("root-hardware-mfa")
def test_fails_with_pytest_fail(verdict):
    if verdict.status is not Status.PASS:
        pytest.fail(verdict.message)


@pytest.mark.control("root-usage")
def test_xfails_in_body(verdict):
    if verdict.status is not Status.PASS:
        pytest.xfail("accepted risk")
'''


def test_other_ways_to_end_keep_verdicts(pytester, tmp_path):
    reports = tmp_path / "reports"
    write_report(reports / "no-mfa", "444400000006", "false")

    result, document = run_own_tests(pytester, tmp_path, OTHER_WAYS_TO_END, f"--credential-reports={reports}")
    by_control = {finding["control"]: finding for finding in document["findings"]}

    assert by_control["root-mfa"]["status"] == "skip"
    assert "not in scope" in by_control["root-mfa"]["message"]
    assert by_control["root-hardware-mfa"]["status"] == "fail"
    assert "bug in the test" not in by_control["root-hardware-mfa"]["message"]
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_xfail_in_body_keeps_failed_verdict(pytester, tmp_path):
    reports = tmp_path / "reports"
    write_report(reports / "no-mfa", "444400000007", "false")
    source = OTHER_WAYS_TO_END.replace('"root-usage"', '"root-mfa"').replace("@pytest.mark.skip(", "@pytest.mark.skipif(False, ")

    result, document = run_own_tests(pytester, tmp_path, source, f"--credential-reports={reports}", "-k", "xfails")
    [finding] = document["findings"]

    assert finding["status"] == "fail"
    assert "ended as xfailed" in finding["message"]
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("option", ["--setup-plan", "--setup-only"])
def test_setup_only_runs_write_no_findings(pytester, tmp_path, option):
    reports = tmp_path / "reports"
    write_report(reports / "no-mfa", "444400000008", "false")
    write_own_tests(pytester, MANY_FAILING_TESTS)
    findings = tmp_path / "findings.json"
    html = tmp_path / "report.html"

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", option, "--as-of", AS_OF, f"--credential-reports={reports}",
        f"--findings-json={findings}", f"--html={html}",
    )

    assert result.ret == pytest.ExitCode.OK
    assert not findings.exists()
    assert "Fleet summary" not in html.read_text(encoding="utf-8")
