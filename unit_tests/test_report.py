"""The fleet summary and its renderings for the terminal and the HTML report."""

import re

from awscompliance import report as reporting
from awscompliance.catalog import CONTROLS

FINDINGS = [
    {"control": "root-mfa", "status": "pass"},
    {"control": "root-mfa", "status": "pass"},
    {"control": "root-mfa", "status": "fail"},
    {"control": "root-mfa", "status": "error"},
    {"control": "root-usage", "status": "fail"},
    {"control": "root-usage", "status": "skip"},
]


# Three audited accounts, each with a finding for every catalog control.
FULL = reporting.Coverage(accounts=3, audited_accounts=3, controls=tuple(CONTROLS), missing_findings=0)


def html_cells(row_html):
    return re.findall(r"<td>(.*?)</td>", row_html)


def test_fleet_summary_counts_each_status():
    rows = reporting.fleet_summary(FINDINGS)

    assert [row.control for row in rows] == ["root-usage", "root-mfa"]  # catalog order
    usage, mfa = rows
    assert (mfa.passed, mfa.failed, mfa.errors, mfa.skipped) == (2, 1, 1, 0)
    assert (usage.passed, usage.failed, usage.errors, usage.skipped) == (0, 1, 0, 1)
    assert mfa.failed_percent == 100 / 3
    assert usage.failed_percent == 100.0


def test_summary_totals_add_every_control():
    total = reporting.summary_total(reporting.fleet_summary(FINDINGS))

    assert (total.passed, total.failed, total.errors, total.skipped) == (2, 2, 1, 1)
    assert total.failed_percent == 50.0


def test_summary_html_columns_per_status():
    page = reporting.summary_html(reporting.fleet_summary(FINDINGS), FULL)

    headers = re.findall(r"<th>(.*?)</th>", page)
    assert headers == ["Control", "Title", "Frameworks", "Passed", "Failed", "Failed %", "Errors", "Skipped"]
    mfa_row = next(row for row in re.findall(r"<tr>.*?</tr>", page) if "<td>root-mfa</td>" in row)
    cells = html_cells(mfa_row)
    assert cells[0] == "root-mfa"
    assert cells[1] == CONTROLS["root-mfa"].title
    assert cells[3:] == ["2", "1", "33.3%", "1", "0"]


def test_summary_html_states_totals():
    page = reporting.summary_html(reporting.fleet_summary(FINDINGS), FULL)

    total_row = re.search(r"<tfoot><tr>(.*?)</tr></tfoot>", page).group(1)
    assert html_cells(total_row) == ["All controls", "", "", "2", "2", "50.0%", "1", "1"]
    assert "6 results: 2 passed, 2 failed, 1 error, 1 skipped." in page


def test_summary_html_explains_pytest_counts():
    page = reporting.summary_html(reporting.fleet_summary(FINDINGS), FULL)

    assert "an error is counted in Errors" in page
    assert "differ" not in page


def test_summary_html_names_findings_unlike_pytest():
    page = reporting.summary_html(reporting.fleet_summary(FINDINGS), FULL, findings_unlike_pytest=2)

    assert "2 findings differ from pytest's result for the test" in page


def test_summary_html_one_finding_unlike_pytest():
    page = reporting.summary_html(reporting.fleet_summary(FINDINGS), FULL, findings_unlike_pytest=1)

    assert "1 finding differs from pytest's result for the test" in page


def test_summary_lines_per_status_and_total():
    lines = reporting.summary_lines(reporting.fleet_summary(FINDINGS), FULL)

    assert lines[0] == "3 accounts, 6 results: 2 passed, 2 failed, 1 error, 1 skipped"
    assert lines[1].split() == ["control", "passed", "failed", "failed", "%", "errors", "skipped"]
    assert lines[2].split() == ["root-usage", "0", "1", "100.0%", "0", "1"]
    assert lines[3].split() == ["root-mfa", "2", "1", "33.3%", "1", "0"]
    assert lines[4].split() == ["all", "controls", "2", "2", "50.0%", "1", "1"]


def labelled_findings(pairs):
    return [(label, {"control": control, "status": "pass"}) for label, control in pairs]


def test_coverage_full_run():
    labels = ["111-a", "222-b"]
    labelled = labelled_findings((label, control) for label in labels for control in CONTROLS)
    coverage = reporting.coverage(labelled, labels, [])

    assert coverage == reporting.Coverage(accounts=2, audited_accounts=2, controls=tuple(CONTROLS), missing_findings=0)
    assert reporting.scope_text(coverage) == "2 accounts"
    assert reporting.selection_text(coverage) is None


def test_coverage_counts_selected_only():
    labels = ["111-a", "222-b", "333-c"]
    labelled = labelled_findings([("111-a", "root-mfa"), ("111-a", "root-usage"), ("111-a", "root-mfa")])
    coverage = reporting.coverage(labelled, labels, ["-k '111 and (mfa or usage)'"])

    assert coverage.accounts == 1
    assert coverage.controls == ("root-usage", "root-mfa")
    assert coverage.missing_findings == 3 * len(CONTROLS) - 2
    assert reporting.scope_text(coverage) == f"1 of 3 accounts, 2 of {len(CONTROLS)} controls"
    assert reporting.selection_text(coverage) == (
        f"{3 * len(CONTROLS) - 2} of {3 * len(CONTROLS)} account-control pairs have no finding, because their "
        "tests were not selected or did not run. Tests selected with: -k '111 and (mfa or usage)'."
    )


def test_coverage_no_test_selected():
    coverage = reporting.coverage([], ["111-a", "222-b"], ["-k nomatch"])

    assert coverage.accounts == 0
    assert coverage.controls == ()
    assert coverage.missing_findings == 2 * len(CONTROLS)
    assert reporting.selection_text(coverage) == (
        "No compliance test ran, so none of the 2 accounts was evaluated. Tests selected with: -k nomatch."
    )


def test_coverage_filter_that_left_nothing_out():
    labels = ["111-a"]
    labelled = labelled_findings(("111-a", control) for control in CONTROLS)
    coverage = reporting.coverage(labelled, labels, ["-m 'not slow'"])

    assert reporting.scope_text(coverage) == "1 account"
    assert reporting.selection_text(coverage) == "Tests selected with: -m 'not slow', which left out no account or control."


def test_summary_states_selection():
    labelled = labelled_findings([("111-a", "root-mfa")])
    coverage = reporting.coverage(labelled, ["111-a", "222-b"], ["-k mfa"])
    rows = reporting.fleet_summary(finding for _, finding in labelled)

    lines = reporting.summary_lines(rows, coverage)
    page = reporting.summary_html(rows, coverage)

    assert lines[0] == f"1 of 2 accounts, 1 of {len(CONTROLS)} controls, 1 result: 1 passed, 0 failed, 0 errors, 0 skipped"
    assert f"<h2>Fleet summary: 1 of 2 accounts, 1 of {len(CONTROLS)} controls</h2>" in page
    assert reporting.selection_text(coverage) in page
