"""The compliance suite run end to end through pytest, as a user runs it."""

import html as markup
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from awscompliance.catalog import CONTROLS
from unit_tests.shared_cases import CASES, load_expected

PROJECT = Path(__file__).resolve().parents[1]
EXPECTED = load_expected()
CONTROL_IDS = ("root-usage", "root-access-key", "root-mfa", "root-hardware-mfa")
ORGANIZATION_CONTROL_IDS = tuple(control for control in CONTROLS if control not in CONTROL_IDS)


def run_suite(pytester, tmp_path, *options, env=None):
    """Run the compliance tests in a subprocess; return the result and the findings document."""
    findings = tmp_path / "findings.json"
    html = tmp_path / "compliance.html"
    for name, value in (env or {}).items():
        pytester._monkeypatch.setenv(name, value)
    result = pytester.runpytest_subprocess(
        str(PROJECT / "tests_compliance"),
        "-c",
        str(PROJECT / "pytest.ini"),
        "--rootdir",
        str(PROJECT),
        "-p",
        "no:cacheprovider",
        "--findings-json",
        str(findings),
        "--html",
        str(html),
        *options,
    )
    document = json.loads(findings.read_text(encoding="utf-8")) if findings.exists() else None
    return result, document, html


def offline_options():
    return ("--credential-reports", str(CASES), "--as-of", EXPECTED["as_of"], "--root-usage-days", str(EXPECTED["root_usage_days"]))


def statuses(document, controls=CONTROL_IDS):
    return {
        (finding["account_id"], finding["control"]): finding["status"]
        for finding in document["findings"]
        if finding["control"] in controls
    }


def test_offline_cases_match_expected(pytester, tmp_path):
    result, document, html = run_suite(pytester, tmp_path, *offline_options())

    expected = {
        (account_id, control): status
        for account_id, case in EXPECTED["accounts"].items()
        for control, status in case["expected"].items()
    }
    assert statuses(document) == expected
    assert len(document["findings"]) == len(EXPECTED["accounts"]) * len(CONTROLS)
    assert document["complete"] is True
    assert result.ret == 1
    assert html.exists()
    assert "Traceback" not in result.stdout.str()


def test_offline_skips_organization_controls(pytester, tmp_path):
    _, document, _ = run_suite(pytester, tmp_path, *offline_options())
    organization_findings = [finding for finding in document["findings"] if finding["control"] in ORGANIZATION_CONTROL_IDS]
    judged_accounts = {
        account_id
        for account_id, case in EXPECTED["accounts"].items()
        if case["case"] not in ("govcloud-root", "no-root-row")
    }

    for finding in organization_findings:
        if finding["account_id"] not in judged_accounts:
            continue
        assert finding["status"] in {"skip", "pass"}, finding
        if finding["status"] == "skip":
            assert "--org" in finding["message"] or "detection evidence" in finding["message"], finding


def test_findings_json_shape(pytester, tmp_path):
    _, document, _ = run_suite(pytester, tmp_path, *offline_options())

    assert document["as_of"] == "2026-06-01T00:00:00Z"
    assert document["root_usage_days"] == 7
    assert document["generated_at"].endswith("Z")
    assert document["complete"] is True
    assert document["controls"] == list(CONTROLS)
    assert document["missing_findings"] == 0
    assert document["selection"]["keyword"] is None
    assert document["selection"]["markers"] is None
    assert document["selection"]["deselect"] == []
    assert document["selection"]["paths"] == [str(PROJECT / "tests_compliance")]
    assert {account["account_id"] for account in document["accounts"]} == set(EXPECTED["accounts"])
    for finding in document["findings"]:
        assert set(finding) == {"account_id", "source", "control", "status", "message", "evidence"}
        assert finding["status"] in {"pass", "fail", "error", "skip"}
        assert finding["message"]


def test_html_has_fleet_summary_and_columns(pytester, tmp_path):
    _, _, html = run_suite(pytester, tmp_path, *offline_options())
    page = html.read_text(encoding="utf-8")

    assert "fleet-summary" in page
    assert "Failed %" in page
    assert "<root_account>" not in page
    assert "111100000008-root-virtual-mfa-custom-name" in page


def html_results(page):
    """Return the result rows of a pytest-html 4.2.0 page, from the JSON that its script renders."""
    blob = re.search(r'data-jsonblob="([^"]*)"', page).group(1)
    return [row for rows in json.loads(markup.unescape(blob))["tests"].values() for row in rows]


def test_html_rows_show_verdict_once(pytester, tmp_path):
    _, document, html = run_suite(pytester, tmp_path, *offline_options())
    rows = html_results(html.read_text(encoding="utf-8"))

    results = {row["result"] for row in rows}
    assert {"Passed", "Failed", "Error", "Skipped"} <= results
    messages = {finding["message"] for finding in document["findings"]}
    for row in rows:
        log = markup.unescape(row["log"])
        verdict = re.match(r"Verdict: (pass|fail|error|skip)\. (.*)", log)
        assert verdict, row
        assert verdict.group(2) in messages, row
        assert log.count(verdict.group(2)) == 1, row
        assert "('" not in log, row


def test_html_summary_matches_findings(pytester, tmp_path):
    _, document, html = run_suite(pytester, tmp_path, *offline_options())
    page = html.read_text(encoding="utf-8")

    statuses = [finding["status"] for finding in document["findings"]]
    counts = {status: statuses.count(status) for status in ("pass", "fail", "error", "skip")}
    assert all(counts.values())
    totals = (
        f"{len(statuses)} results: {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['error']} errors, {counts['skip']} skipped."
    )
    assert totals in page
    # pytest-html's filters count the same results.
    assert f"{counts['pass']} Passed," in page
    assert f"{counts['fail']} Failed," in page
    assert f"{counts['error']} Errors," in page
    assert f"{counts['skip']} Skipped," in page
    for control in CONTROLS:
        row = re.search(rf"<tr><td>{control}</td>(.*?)</tr>", page).group(1)
        cells = re.findall(r"<td>(.*?)</td>", row)
        control_statuses = [finding["status"] for finding in document["findings"] if finding["control"] == control]
        expected = [control_statuses.count(status) for status in ("pass", "fail", "error", "skip")]
        assert [int(cells[2]), int(cells[3]), int(cells[5]), int(cells[6])] == expected, control


def test_html_hides_pytest_html_test_count(pytester, tmp_path):
    # pytest-html 4.2.0 writes "N tests took ..." counting only passed and failed tests.
    _, _, html = run_suite(pytester, tmp_path, *offline_options())
    style = (html.parent / "assets" / "style.css").read_text(encoding="utf-8")

    assert re.search(r"\.run-count\s*\{\s*display:\s*none;?\s*\}", style)


def test_html_escapes_account_names(pytester, tmp_path):
    reports = tmp_path / "reports" / "<img src=x onerror=alert(1)>"
    reports.mkdir(parents=True)
    (reports / "credential_report.csv").write_bytes((CASES / "clean-root" / "credential_report.csv").read_bytes())
    _, document, html = run_suite(pytester, tmp_path, "--credential-reports", str(tmp_path / "reports"))
    page = html.read_text(encoding="utf-8")

    assert document["accounts"][0]["name"] == "<img src=x onerror=alert(1)>"
    assert "<img src=x" not in page


def test_verdicts_independent_of_time_zone(pytester, tmp_path):
    documents = []
    for zone in ("Pacific/Kiritimati", "America/Adak"):
        folder = tmp_path / zone.replace("/", "-")
        folder.mkdir()
        _, document, _ = run_suite(pytester, folder, *offline_options(), env={"TZ": zone})
        documents.append(document)

    first, second = documents
    assert first["findings"] == second["findings"]
    assert first["accounts"] == second["accounts"]


def test_no_credentials_stops_with_one_message(pytester, tmp_path):
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "missing-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "missing-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        pytester._monkeypatch.delenv(name, raising=False)
    result, document, _ = run_suite(pytester, tmp_path, env=env)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    stderr = result.stderr.str()
    assert "No AWS credentials were found" in stderr
    assert "--demo" in stderr
    assert "--credential-reports" in stderr
    assert "Traceback" not in stderr
    assert document is None


def test_bad_file_is_that_accounts_error(pytester, tmp_path):
    reports = tmp_path / "reports"
    (reports / "good").mkdir(parents=True)
    (reports / "bad").mkdir()
    (reports / "good" / "credential_report.csv").write_bytes((CASES / "clean-root" / "credential_report.csv").read_bytes())
    (reports / "bad" / "credential_report.csv").write_bytes(b"\x00\x01\x02")
    result, document, _ = run_suite(pytester, tmp_path, "--credential-reports", str(reports), "--as-of", "2026-06-01T00:00:00Z")

    by_source = {}
    for finding in document["findings"]:
        by_source.setdefault(finding["source"], []).append(finding)
    bad = by_source[str(reports / "bad" / "credential_report.csv")]
    good = [finding for finding in document["findings"] if finding["account_id"] == "111100000001"]
    good_root = [finding for finding in good if finding["control"] in CONTROL_IDS]
    good_organization = [finding for finding in good if finding["control"] not in CONTROL_IDS]
    assert [finding["status"] for finding in bad] == ["error"] * len(CONTROLS)
    assert all(finding["account_id"] is None for finding in bad)
    assert all("binary" in finding["message"] for finding in bad)
    assert sorted(finding["status"] for finding in good_root) == ["pass", "pass", "pass", "skip"]
    assert "Traceback" not in result.stdout.str()
    good_statuses = [finding["status"] for finding in good]
    assert good_organization
    result.assert_outcomes(
        passed=good_statuses.count("pass"), skipped=good_statuses.count("skip"), errors=len(CONTROLS)
    )


def test_unit_test_run_leaves_plugin_inactive(pytester, tmp_path):
    pytester._monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "missing-credentials"))
    pytester._monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        pytester._monkeypatch.delenv(name, raising=False)
    result = pytester.runpytest_subprocess(
        str(PROJECT / "unit_tests" / "test_credential_report.py"),
        "-c",
        str(PROJECT / "pytest.ini"),
        "--rootdir",
        str(PROJECT),
        "-p",
        "no:cacheprovider",
    )

    assert result.ret == pytest.ExitCode.OK
    assert "AWS compliance summary" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()


def without_times(document):
    """Return the document with every UTC timestamp replaced, since the demo seeds dates from now."""
    text = json.dumps(document, sort_keys=True)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<time>", text)
    text = re.sub(r"\d+ days? \d\d:\d\d:\d\d before", "<age> before", text)
    return json.loads(text)


def test_demo_writes_both_reports_and_fails(pytester, tmp_path):
    result, document, html = run_suite(pytester, tmp_path, "--demo")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert html.exists()
    assert len(document["accounts"]) >= 10
    found = {(finding["control"], finding["status"]) for finding in document["findings"]}
    for control in CONTROLS:
        assert (control, "pass") in found, control
        assert (control, "fail") in found, control
        assert (control, "error") in found, control
    assert len(document["findings"]) == len(document["accounts"]) * len(CONTROLS)
    # The environment table names the Region whose detection evidence was read.
    assert "Home Region&#34;: &#34;us-east-1&#34;" in html.read_text(encoding="utf-8")


def test_demo_same_findings_under_xdist(pytester, tmp_path):
    serial_dir = tmp_path / "serial"
    parallel_dir = tmp_path / "parallel"
    serial_dir.mkdir()
    parallel_dir.mkdir()
    _, serial, _ = run_suite(pytester, serial_dir, "--demo")
    result, parallel, _ = run_suite(pytester, parallel_dir, "--demo", "-n", "2")

    assert "2 workers" in result.stdout.str()
    assert without_times(parallel) == without_times(serial)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--as-of", "2026-06-01T00:00:00"), "has no UTC offset"),
        (("--as-of", "yesterday"), "not an ISO 8601 timestamp"),
        (("--root-usage-days", "-1"), "--root-usage-days must be from 0 to 36500"),
        (("--root-usage-days", "1000000000"), "--root-usage-days must be from 0 to 36500"),
        (("--as-of", "0001-01-01T00:00:00+05:30"), "outside the years 1 to 9999"),
        (("--report-timeout", "nan"), "--report-timeout must be a number of seconds above 0"),
        (("--workers", "0"), "--workers must be 1 or more"),
        (("--report-timeout", "0"), "--report-timeout must be a number of seconds above 0"),
        (("--accounts", "12345"), "12-digit account ids"),
        (("--demo", "--profiles", "prod"), "Choose one evidence source"),
    ],
    ids=[
        "naive-as-of",
        "bad-as-of",
        "negative-days",
        "huge-days",
        "as-of-overflow",
        "nan-timeout",
        "zero-workers",
        "zero-timeout",
        "bad-account",
        "two-sources",
    ],
)
def test_bad_options_stop_with_usage_error(pytester, tmp_path, options, message):
    result, document, _ = run_suite(pytester, tmp_path, *options)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "Traceback" not in result.stderr.str()
    assert document is None


def test_requested_account_not_found_is_error(pytester, tmp_path):
    _, document, _ = run_suite(
        pytester, tmp_path, *offline_options(), "--accounts", "111100000001,111100000099"
    )

    missing = [finding for finding in document["findings"] if finding["account_id"] == "111100000099"]
    assert {finding["account_id"] for finding in document["findings"]} == {"111100000001", "111100000099"}
    assert len(missing) == len(CONTROLS)
    assert all(finding["status"] == "error" for finding in missing)
    assert all("requested with --accounts" in finding["message"] for finding in missing)


def test_filters_leaving_no_account_stop(pytester, tmp_path):
    result, document, _ = run_suite(
        pytester, tmp_path, "--credential-reports", str(CASES / "clean-root"), "--exclude-accounts", "111100000001"
    )

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "No account is left to audit" in result.stderr.str()
    assert document is None


def test_save_into_input_folder_refused(pytester, tmp_path):
    result, _, _ = run_suite(pytester, tmp_path, "--credential-reports", str(CASES), "--save-evidence", str(CASES / "clean-root"))

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "overlaps --credential-reports" in result.stderr.str()


def test_collect_only_writes_no_findings(pytester, tmp_path):
    result, document, _ = run_suite(pytester, tmp_path, *offline_options(), "--collect-only")

    assert result.ret == pytest.ExitCode.OK
    assert document is None


def test_no_selected_test_is_incomplete(pytester, tmp_path):
    result, document, html = run_suite(pytester, tmp_path, *offline_options(), "-k", "nomatch")
    output = result.stdout.str()

    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert document["complete"] is False
    assert document["findings"] == []
    assert document["controls"] == []
    assert document["missing_findings"] == len(document["accounts"]) * len(CONTROLS)
    assert document["selection"]["keyword"] == "nomatch"
    assert "No compliance test ran" in output
    assert "-k nomatch" in output
    assert "No compliance test ran" in html.read_text(encoding="utf-8")


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_folder_without_compliance_tests_fails(pytester, tmp_path, workers):
    # An unrelated test passes, but no account is audited, so the run must not exit 0.
    pytester.makepyfile(test_unrelated="def test_unrelated():\n    pass\n")
    findings = tmp_path / "findings.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--findings-json={findings}", f"--html={tmp_path / 'report.html'}",
        *offline_options(), *workers
    )
    document = json.loads(findings.read_text(encoding="utf-8"))
    output = result.stdout.str()

    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "1 passed" in output
    assert document["complete"] is False
    assert document["not_run"] == []
    assert document["selection"]["paths"] == [str(pytester.path)]
    assert "No compliance test ran" in output
    assert str(PROJECT / "tests_compliance") in output


def test_keyword_selection_counts_selected(pytester, tmp_path):
    keyword = "111100000001 and mfa"
    result, document, html = run_suite(pytester, tmp_path, *offline_options(), "-k", keyword)
    output = result.stdout.str()
    page = html.read_text(encoding="utf-8")

    selected = ["root-mfa", "root-hardware-mfa", "root-mfa-enforced"]
    accounts = len(document["accounts"])
    assert accounts == len(EXPECTED["accounts"])
    # -k left account-control pairs without a finding, so the findings are not a complete audit.
    assert document["complete"] is False
    assert document["controls"] == selected
    assert document["missing_findings"] == accounts * len(CONTROLS) - len(selected)
    assert document["selection"]["keyword"] == keyword
    scope = f"1 of {accounts} accounts, {len(selected)} of {len(CONTROLS)} controls"
    assert f"{scope}, {len(selected)} results" in output
    assert f"-k '{keyword}'" in output
    assert f"Fleet summary: {scope}" in page
    assert markup.escape(f"-k '{keyword}'", quote=False) in page


def test_keyword_selects_control_by_id(pytester, tmp_path):
    result, document, _ = run_suite(pytester, tmp_path, *offline_options(), "-k", "root-hardware-mfa")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert document["controls"] == ["root-hardware-mfa"]
    assert len(document["findings"]) == len(EXPECTED["accounts"])


def test_stopped_run_marked_incomplete(pytester, tmp_path):
    _, document, html = run_suite(pytester, tmp_path, *offline_options(), "-x")

    assert document["complete"] is False
    assert len(document["findings"]) == len(EXPECTED["accounts"]) * len(CONTROLS)
    unjudged = [finding for finding in document["findings"] if "did not run to a verdict" in finding["message"]]
    assert unjudged
    # The HTML report has no result for a test that did not run, so its page notes the difference.
    assert f"{len(unjudged)} findings differ from pytest's result" in html.read_text(encoding="utf-8")


def test_space_separated_path_from_project_folder(tmp_path):
    # pytest reads the command line before plugins add options, so a path after a space looks like
    # a test path. The plugin, loaded from its entry point, restores the project's settings.
    findings = tmp_path / "findings.json"
    command = [
        sys.executable, "-m", "pytest",
        "--credential-reports", os.path.relpath(CASES, PROJECT),
        "--as-of", EXPECTED["as_of"],
        "--root-usage-days", str(EXPECTED["root_usage_days"]),
        f"--findings-json={findings}",
        f"--html={tmp_path / 'report.html'}",
        "-p", "no:cacheprovider",
    ]
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=300)
    document = json.loads(findings.read_text(encoding="utf-8"))

    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout[-2000:] + result.stderr[-2000:]
    assert "unit_tests" not in result.stdout
    assert statuses(document) == {
        (account_id, control): status
        for account_id, case in EXPECTED["accounts"].items()
        for control, status in case["expected"].items()
    }


def test_terminal_lists_each_problem_without_tracebacks(pytester, tmp_path):
    result, document, _ = run_suite(pytester, tmp_path, *offline_options())
    output = result.stdout.str()

    problems = [finding for finding in document["findings"] if finding["status"] in ("fail", "error")]
    assert problems
    for finding in problems:
        line = f"{finding['status'].upper():<5} {finding['control']} {finding['account_id']}"
        assert any(text.startswith(line) and text.endswith(finding["message"]) for text in output.splitlines()), line
    assert "= FAILURES =" not in output
    assert "AssertionError" not in output


def test_chosen_traceback_style_shows_verdict_message(pytester, tmp_path):
    result, document, _ = run_suite(pytester, tmp_path, *offline_options(), "--tb=short")
    output = result.stdout.str()

    failed = next(finding for finding in document["findings"] if finding["status"] == "fail")
    assert "= FAILURES =" in output
    # The failure report is the verdict's message, not the repr of the assert.
    assert failed["message"] in output
    assert "assert verdict.status" not in output


BUGGY_TESTS = '''
import pytest
from awscompliance.evidence import Status


@pytest.mark.control("root-mfa")
def test_typo_after_failed_verdict(verdict):
    if verdict.status is Status.FAIL:
        verdict.mesage
    assert verdict.status is Status.PASS, verdict.message


@pytest.mark.control("root-mfa")
def test_typo_after_passed_verdict(verdict):
    assert verdict.status is Status.PASS, verdict.message
    {}["missing"]
'''


def test_bug_in_test_keeps_its_traceback(pytester, tmp_path):
    pytester.makeconftest((PROJECT / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_buggy=BUGGY_TESTS)
    findings = tmp_path / "findings.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--findings-json", str(findings), "--tb=short", *offline_options()
    )
    document = json.loads(findings.read_text(encoding="utf-8"))
    output = result.stdout.str()

    assert "AttributeError" in output
    assert "mesage" in output
    after_pass = [finding for finding in document["findings"] if "The control passed" in finding["message"]]
    assert after_pass
    assert all(finding["status"] == "error" for finding in after_pass)
    assert all("its test failed: KeyError" in finding["message"] for finding in after_pass)
    # Every account that passes root-mfa passes the first test and errors in the second.
    assert len(after_pass) == len([finding for finding in document["findings"] if finding["status"] == "pass"])
    # An account that fails root-mfa breaks the first test before its assert: an error, not a clean fail.
    after_fail = [finding for finding in document["findings"] if "The control failed" in finding["message"]]
    assert after_fail
    assert all(finding["status"] == "error" for finding in after_fail)
    assert all("raised AttributeError" in finding["message"] for finding in after_fail)


def test_collect_only_writes_no_report(pytester, tmp_path):
    html = pytester.path / "reports" / "compliance.html"
    result = pytester.runpytest_subprocess(
        str(PROJECT / "tests_compliance"), "-c", str(PROJECT / "pytest.ini"), "--rootdir", str(PROJECT),
        "-p", "no:cacheprovider", "--collect-only", *offline_options()
    )
    output = result.stdout.str()

    assert result.ret == pytest.ExitCode.OK
    assert not html.exists()
    assert "No verdict was recorded" not in output
    assert "AWS compliance summary" not in output


def test_undated_reports_without_as_of_cannot_pass_usage(pytester, tmp_path):
    result, document, _ = run_suite(pytester, tmp_path, "--credential-reports", str(CASES))

    usage = [finding for finding in document["findings"] if finding["control"] == "root-usage"]
    assert usage
    assert "pass" not in {finding["status"] for finding in usage}
    undated = [finding for finding in usage if finding["status"] == "error" and "generation time is unknown" in finding["message"]]
    assert undated
    assert result.ret == 1
