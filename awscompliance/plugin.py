"""The pytest plugin: options, account evidence for the tests, and the reports after the run.

The plugin is active only when the run includes the compliance tests, so `pytest unit_tests`
never reaches for AWS. When active, it collects every account's evidence once, before the tests
run. Under pytest-xdist the controller collects and hands the evidence to the workers in a file.
Each control test is parametrized over the accounts and records its verdict on its test report,
and after the session the controller writes findings.json and the HTML additions from those
recorded verdicts.
"""

from __future__ import annotations

import functools
import gc
import html
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from collections.abc import Iterable
from typing import Any

import pytest

from awscompliance import report as reporting
from awscompliance.catalog import CONTROLS
from awscompliance.credential_report import format_value
from awscompliance.evidence import AuditSettings, Evidence, Status, Verdict
from awscompliance.selection import describe_selection, resolve_test_path, selection_filters

logger = logging.getLogger(__name__)

COMPLIANCE_TESTS = "tests_compliance"
# The compliance tests of the project that this plugin belongs to, when it is installed from a checkout.
PROJECT_TESTS = Path(__file__).resolve().parent.parent / COMPLIANCE_TESTS
DEFAULT_HTML = "reports/compliance.html"
DEFAULT_FINDINGS = "reports/findings.json"
REPORT_CSS = Path(__file__).with_name("report.css")
# 100 years: a longer window adds no history, and far longer ones overflow date arithmetic.
MAX_ROOT_USAGE_DAYS = 36500

# Keys under which a test report carries its account and verdict, so that the pytest-xdist
# controller, which never runs the tests itself, can build the reports.
ACCOUNT_PROPERTY = "awscompliance_account"
CONTROL_PROPERTY = "awscompliance_control"
FINDING_PROPERTY = "awscompliance_finding"

# Keys of `workerinput`, the dict pytest-xdist sends from the controller to each worker.
EVIDENCE_FILE_INPUT = "awscompliance_evidence_file"
AS_OF_INPUT = "awscompliance_as_of"
AS_OF_DEFAULT_INPUT = "awscompliance_as_of_is_default"

# pytest-html's log of a row without longrepr or captured output.
NO_LOG_OUTPUT = "No log output captured."
# The result pytest and pytest-html give a compliance test, for each status of its verdict.
PYTEST_RESULTS = {
    Status.PASS.value: "passed",
    Status.FAIL.value: "failed",
    Status.ERROR.value: "error",
    Status.SKIP.value: "skipped",
}


class AccountEvidenceError(Exception):
    """Raised in a test's setup when its control could not judge the account.

    Raising during setup makes pytest report an error rather than a failure, so violation counts
    include only the accounts that were judged.
    """


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("awscompliance", "AWS compliance")
    group.addoption("--demo", action="store_true", help="Audit the built-in simulated organization (moto); no AWS account needed.")
    group.addoption(
        "--profiles", metavar="NAMES", help="Audit the accounts of these comma-separated AWS profiles, one account each."
    )
    group.addoption(
        "--org",
        action="store_true",
        help="Audit every ACTIVE account of the AWS Organization of the current (management or delegated administrator) credentials.",
    )
    group.addoption(
        "--role-name",
        default="OrganizationAccountAccessRole",
        metavar="NAME",
        help="Role assumed in each member account with --org (default: OrganizationAccountAccessRole).",
    )
    group.addoption(
        "--region",
        metavar="REGION",
        help="Home Region whose CloudTrail, GuardDuty and AWS Config setup is judged (default: the session's Region, else us-east-1).",
    )
    group.addoption("--external-id", metavar="ID", help="External id passed to AssumeRole with --org (default: none).")
    group.addoption("--accounts", metavar="IDS", help="Audit only these comma-separated account ids (default: all).")
    group.addoption("--exclude-accounts", metavar="IDS", help="Skip these comma-separated account ids (default: none).")
    group.addoption(
        "--ou", metavar="OU_ID", help="With --org or --demo, audit only the accounts under this OU, e.g. ou-ab12-cd34ef56."
    )
    group.addoption(
        "--credential-reports",
        metavar="PATH",
        help="Audit exported credential reports offline: a report file, or a folder searched recursively for *.csv.",
    )
    group.addoption(
        "--save-evidence", metavar="DIR", help="Write the collected evidence to DIR, one folder per account, in the offline layout."
    )
    group.addoption(
        "--as-of",
        metavar="TIMESTAMP",
        help="Evaluation time as ISO 8601 with a UTC offset, e.g. 2026-06-01T00:00:00Z (default: now).",
    )
    group.addoption(
        "--root-usage-days",
        type=int,
        default=7,
        metavar="DAYS",
        help="Root use at most this many days before the evaluation time fails root-usage (default: 7).",
    )
    group.addoption(
        "--findings-json", metavar="PATH", default=DEFAULT_FINDINGS, help=f"Path of the findings file (default: {DEFAULT_FINDINGS})."
    )
    group.addoption(
        "--workers", type=int, default=32, metavar="N", help="Accounts collected at once, in threads (default: 32)."
    )
    group.addoption(
        "--report-timeout",
        type=float,
        default=180.0,
        metavar="SECONDS",
        help="Maximum wait for one account's credential report to be generated (default: 180).",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # tryfirst: the default HTML path must be set before pytest-html's own pytest_configure reads it.
    config.addinivalue_line("markers", "control(id): the catalog id of the control a compliance test judges")
    if not _runs_compliance_tests(config):
        return

    _recover_project_configuration(config)
    if not _traceback_style_chosen(config):
        # No traceback style was chosen. The "AWS compliance failures and errors" section lists
        # every failure and error with its message, so pytest's failure report would repeat it.
        # It would also be slow, because pytest 9 scans every test report once per failure,
        # which took a minute for 6,700 failures. `--tb=short` brings it back.
        config.option.tbstyle = "no"
    settings = _audit_settings(config)
    findings_path = Path(config.getoption("findings_json"))
    if findings_path.is_dir():
        raise pytest.UsageError(f"--findings-json {str(findings_path)!r} is a folder; give a file path.")
    # --collect-only runs no test, so it must not replace the last run's report with an empty one.
    if config.getoption("htmlpath", None) is None and config.pluginmanager.hasplugin("html") and not _runs_no_test_call(config):
        config.option.htmlpath = DEFAULT_HTML
        config.option.self_contained_html = True
    if config.pluginmanager.hasplugin("html"):
        config.option.css = [*config.option.css, str(REPORT_CSS)]
    config.pluginmanager.register(ComplianceRun(config, settings), ComplianceRun.NAME)


def get_run(config: pytest.Config) -> ComplianceRun:
    """Return the active run; the compliance fixtures call this."""
    run = config.pluginmanager.get_plugin(ComplianceRun.NAME)
    if run is None:
        raise pytest.UsageError(
            f"The compliance tests need the awscompliance plugin, which is active only when {COMPLIANCE_TESTS}/ is run."
        )
    return run


@dataclass(eq=False)  # pluggy keeps plugins in sets, so they must hash by identity
class ComplianceRun:
    """State of one compliance run: the settings, the evidence, and the verdicts recorded so far."""

    NAME = "awscompliance-run"

    config: pytest.Config
    settings: AuditSettings
    # Evidence per test-id label, in collection order (sorted by account id).
    evidence: dict[str, Evidence] = field(default_factory=dict)
    # Findings recorded from test reports, by test node id.
    findings: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Node id -> (account label, control id) for every compliance test that reported.
    reported: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Node id -> (account label, control id) of every compliance test selected to run; the
    # pair is None for tests collected on pytest-xdist workers, which send only node ids.
    selected: dict[str, tuple[str, str] | None] = field(default_factory=dict)
    # Node ids selected to run that ended without a verdict and could not be tied to a control.
    not_run: list[str] = field(default_factory=list)
    summary_rows: list[reporting.SummaryRow] = field(default_factory=list)
    # Node id -> the exception of a compliance test that failed without a verdict.
    crashes: dict[str, str] = field(default_factory=dict)
    # One line per failed or errored finding, for the terminal.
    problem_lines: list[str] = field(default_factory=list)
    # Whether a selected test ended without a verdict or an account-control pair has no finding: the
    # opposite of findings.json's "complete", apart from runs without any compliance test.
    incomplete: bool = False
    # Selected tests that ended without a verdict and got an error finding instead.
    unjudged_tests: int = 0
    # Findings whose status differs from pytest's result for their test, see PYTEST_RESULTS.
    findings_unlike_pytest: int = 0
    started: float = field(default_factory=time.monotonic)
    # Seconds from the plugin's start to the end of the tests, evidence collection included.
    duration: float | None = None
    # The options that chose the tests, as findings.json records them, and what the findings cover.
    selection: dict[str, Any] = field(default_factory=dict)
    coverage: reporting.Coverage | None = None
    handoff_dir: Path | None = None

    # --- before collection -------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # tryfirst: on the xdist controller, evidence must exist before workers are started.
        workerinput = getattr(self.config, "workerinput", None)
        if workerinput is not None:
            from awscompliance.offline import evidence_from_dict
            from awscompliance.sources import link_management_detection

            data = json.loads(Path(workerinput[EVIDENCE_FILE_INPUT]).read_text(encoding="utf-8"))
            # The hand-off leaves out each member's link to the management account's detection
            # evidence, where organization trails live, so it is made again here.
            self._store(link_management_detection([evidence_from_dict(item) for item in data]))
            return

        from awscompliance import sources

        evidence = sources.gather_evidence(self.config, self._progress)
        self._store(evidence)
        save_dir = self.config.getoption("save_evidence")
        if save_dir:
            from awscompliance.offline import save_evidence

            save_evidence(evidence, Path(save_dir))
        self._add_metadata()

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Hand the controller's evidence and evaluation time to a pytest-xdist worker."""
        from awscompliance.offline import evidence_to_dict

        if self.handoff_dir is None:
            self.handoff_dir = Path(tempfile.mkdtemp(prefix="awscompliance-"))
            data = [evidence_to_dict(item) for item in self.evidence.values()]
            (self.handoff_dir / "evidence.json").write_text(json.dumps(data), encoding="utf-8")
        node.workerinput[EVIDENCE_FILE_INPUT] = str(self.handoff_dir / "evidence.json")
        node.workerinput[AS_OF_INPUT] = self.settings.as_of.isoformat()
        node.workerinput[AS_OF_DEFAULT_INPUT] = self.settings.as_of_is_default

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "evidence" not in metafunc.fixturenames:
            return
        labels = list(self.evidence)
        metafunc.parametrize("evidence", labels, ids=[_test_id(label) for label in labels], indirect=True)

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        marker = item.get_closest_marker("control")
        if marker is not None and marker.args:
            # -k matches test names and keywords, so the control's id selects its test: -k root-mfa.
            item.extra_keyword_matches.add(str(marker.args[0]))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            label = _parameter_label(item)
            marker = item.get_closest_marker("control")
            if label is not None and marker is not None and marker.args:
                self.selected[item.nodeid] = (label, marker.args[0])
        # Garbage left by evidence collection is freed now, before the survivors are frozen.
        gc.collect()
        _exempt_from_garbage_collection()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        labels = self._labels_by_test_id()
        for node_id in ids:
            # A compliance test's parameter is an audited account's label; other tests are not tracked.
            if _test_id_of(node_id) in labels:
                self.selected.setdefault(node_id, None)

    # --- during the tests --------------------------------------------------------------

    def evaluate(self, item: pytest.Item, evidence: Evidence) -> Verdict:
        """Judge one account with the control named by the test's `control` marker."""
        marker = item.get_closest_marker("control")
        if marker is None or not marker.args or marker.args[0] not in CONTROLS:
            raise pytest.UsageError(
                f"{item.nodeid} needs @pytest.mark.control(ID) with one of: {', '.join(CONTROLS)}"
            )
        control = CONTROLS[marker.args[0]]
        try:
            verdict = control.evaluate(evidence, self.settings)
        except Exception as error:  # a bug in a control must not leave the account without a result
            logger.exception("control %s failed on %s", control.id, evidence.account.label)
            verdict = Verdict(control.id, Status.ERROR, f"Internal error in control {control.id}: {error!r}")
        item.stash[_VERDICT_KEY] = (evidence, verdict)
        if verdict.status is Status.FAIL:
            # pytest calls the item's repr_failure for a failure in the call phase. Its traceback
            # cost about a third of a millisecond per failed control and was then discarded.
            item.repr_failure = functools.partial(_describe_failed_control, item.repr_failure, verdict)  # type: ignore[method-assign]
        return verdict

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
        outcome = yield
        test_report: pytest.TestReport = outcome.get_result()
        if call.excinfo is not None and call.excinfo.errisinstance(AccountEvidenceError):
            # The verdict's message is the whole story; a traceback of the fixture would add noise.
            test_report.longrepr = f"{call.excinfo.value}"
        recorded = item.stash.get(_VERDICT_KEY, None)
        label = _parameter_label(item)
        marker = item.get_closest_marker("control")
        if label is None or marker is None:
            return
        test_report.user_properties.append((ACCOUNT_PROPERTY, label))
        test_report.user_properties.append((CONTROL_PROPERTY, marker.args[0]))

        if item.stash.get(_FINDING_SENT_KEY, False):
            return
        if recorded is not None:
            evidence, verdict = recorded
        elif test_report.when == "setup" and test_report.skipped and label in self.evidence:
            # A skip marker or a skipping fixture stopped the test before its control judged the account.
            reason = _longrepr_message(test_report.longrepr) or "no reason given"
            evidence = self.evidence[label]
            verdict = Verdict(marker.args[0], Status.SKIP, f"Not judged: the test was skipped before its control ran ({reason}).")
        else:
            return

        # An error or skip ends the test in setup; a pass or fail is decided in the call.
        deciding_phase = "setup" if verdict.status in (Status.ERROR, Status.SKIP) else "call"
        if test_report.when != deciding_phase:
            return
        verdict = _verdict_after_test(verdict, test_report, call)
        test_report.user_properties.append((FINDING_PROPERTY, reporting.finding_record(evidence, verdict)))
        item.stash[_FINDING_SENT_KEY] = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = dict(report.user_properties)
        if ACCOUNT_PROPERTY not in properties:
            return
        self.reported[report.nodeid] = (properties[ACCOUNT_PROPERTY], properties[CONTROL_PROPERTY])
        if report.failed and FINDING_PROPERTY not in properties:
            self.crashes.setdefault(report.nodeid, _crash_text(report))
        if FINDING_PROPERTY in properties:
            finding = properties[FINDING_PROPERTY]
            self.findings[report.nodeid] = finding
            result = _pytest_result(report)
            if result != PYTEST_RESULTS[finding["status"]]:
                self.findings_unlike_pytest += 1
                if finding["status"] in (Status.FAIL.value, Status.ERROR.value):
                    # An xfail marker, a skip in the test or a missing assert. The finding keeps the
                    # control's verdict, and the run's exit status still reports it.
                    finding["message"] += (
                        f" Its test ended as {result} instead of {PYTEST_RESULTS[finding['status']]}: a marker on"
                        " the test, or a bug in it."
                    )

    # --- after the tests ---------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        _exempt_from_garbage_collection()
        if hasattr(self.config, "workerinput"):
            return  # workers record nothing; the controller receives every report
        if self.handoff_dir is not None:
            shutil.rmtree(self.handoff_dir, ignore_errors=True)

        if _runs_no_test_call(self.config):
            return  # no test ran, so there is nothing to record, and an older file stays as it was
        self.duration = time.monotonic() - self.started
        unjudged = self._findings_for_unjudged_tests()
        self.unjudged_tests = len(unjudged)
        self.incomplete = bool(unjudged or self.not_run)
        self.findings_unlike_pytest += len(unjudged)
        labelled = [(self.reported[node_id][0], finding) for node_id, finding in self.findings.items()] + unjudged
        findings = [finding for _, finding in labelled]
        self.summary_rows = reporting.fleet_summary(findings)
        self.selection = describe_selection(self.config)
        filters = selection_filters(self.selection, self.config.rootpath / COMPLIANCE_TESTS, self.config.invocation_params.dir)
        self.coverage = reporting.coverage(labelled, self.evidence, filters)

        no_compliance_test = not labelled and not self.not_run
        if no_compliance_test and session.exitstatus == pytest.ExitCode.OK:
            # Other tests passed, but no account was evaluated, and that must not pass as a clean audit.
            session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
        problems = {Status.FAIL.value, Status.ERROR.value}
        if session.exitstatus == pytest.ExitCode.OK and any(finding["status"] in problems for finding in findings):
            # A failed or errored control fails the run, even where its test passed or was skipped.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self.incomplete = self.incomplete or self.coverage.missing_findings > 0
        self.problem_lines = reporting.problem_lines(labelled)
        reporting.write_findings_json(
            Path(self.config.getoption("findings_json")),
            self.settings,
            datetime.now(timezone.utc).replace(microsecond=0),
            list(self.evidence.values()),
            findings,
            self.coverage,
            self.selection,
            complete=not no_compliance_test and not self.incomplete,
            not_run=self.not_run,
        )

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        report.title = "AWS root-user compliance"

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str]) -> None:
        if self.coverage is None:
            return  # the session did not finish
        prefix.append(reporting.summary_html(self.summary_rows, self.coverage, self.findings_unlike_pytest, self.duration))

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, "<th>Account</th>")
        cells.insert(3, "<th>Control</th>")
        cells.insert(4, "<th>Org role</th>")
        cells.insert(5, "<th>Report generated</th>")

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        # pytest-html writes the test id into its cell unescaped, and account names from an
        # organization or a folder name could carry markup, so the cell is rebuilt escaped.
        test_id = report.nodeid if getattr(report, "when", "call") == "call" else f"{report.nodeid}::{report.when}"
        cells[1] = f'<td class="col-testId">{html.escape(test_id)}</td>'

        properties = dict(getattr(report, "user_properties", []))
        label = properties.get(ACCOUNT_PROPERTY, "")
        evidence = self.evidence.get(label)
        generated = evidence.report_generated_time if evidence else None
        cells.insert(2, f"<td>{html.escape(label)}</td>")
        cells.insert(3, f"<td>{html.escape(properties.get(CONTROL_PROPERTY, ''))}</td>")
        cells.insert(4, f"<td>{html.escape(reporting.organization_role(evidence) if evidence else '')}</td>")
        cells.insert(5, f"<td>{html.escape(format_value(generated) if generated else '')}</td>")

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_html(self, report: Any, data: list[str]) -> None:
        """Lead each row's log with its verdict, passes included, and show the verdict's message once."""
        # pytest-html 4.2.0 builds `data` from the text of the report's longrepr, when there is
        # one, then the captured output, or else only "No log output captured.". Lines are HTML.
        logs = [] if data == [NO_LOG_OUTPUT] else list(data)
        longrepr_line = logs.pop(0) if report.longreprtext and logs else None
        longrepr_message = _longrepr_message(report.longrepr)
        finding = dict(getattr(report, "user_properties", [])).get(FINDING_PROPERTY)
        if report.longrepr is None:
            # Without a longrepr, pytest's text is only the line that names the pytest-xdist
            # worker. Rows whose longrepr is the verdict's message drop that line too.
            longrepr_line = None
        elif finding is not None and longrepr_message == finding["message"]:
            # pytest's text for this failure, error or skip is the verdict's message, which the
            # verdict line shows.
            longrepr_line = None
        elif isinstance(report.longrepr, tuple):
            # pytest-html shows a skip's longrepr as the Python tuple (path, line, reason).
            longrepr_line = html.escape(f"Skipped: {longrepr_message}") + "\n"

        lines = []
        if finding is not None:
            lines.append(html.escape(f"Verdict: {finding['status']}. {finding['message']}") + "\n")
        if longrepr_line is not None:
            lines.append(longrepr_line)
        data[:] = (lines + logs) or [NO_LOG_OUTPUT]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput") or _runs_no_test_call(self.config) or self.coverage is None:
            return
        if self.coverage.accounts == 0:
            terminalreporter.write_sep("!", "AWS compliance: no compliance test ran", red=True, bold=True)
            terminalreporter.write_line(reporting.selection_text(self.coverage), red=True, bold=True)
            for line in self._missing_tests_hint():
                terminalreporter.write_line(line, red=True)
            terminalreporter.write_line(f"findings: {self.config.getoption('findings_json')}")
            return

        if self.problem_lines:
            terminalreporter.write_sep("=", "AWS compliance failures and errors")
            for line in self.problem_lines:
                terminalreporter.write_line(line)
        terminalreporter.write_sep("=", "AWS compliance summary")
        for line in reporting.summary_lines(self.summary_rows, self.coverage):
            terminalreporter.write_line(line)
        selection = reporting.selection_text(self.coverage)
        if selection:
            terminalreporter.write_line(selection, yellow=True)
        terminalreporter.write_line(f"findings: {self.config.getoption('findings_json')}")
        if self.incomplete:
            reasons = []
            if self.unjudged_tests or self.not_run:
                reasons.append("some tests ended without a verdict (see the error findings and not_run)")
            if self.coverage.missing_findings:
                reasons.append(f"{self.coverage.missing_findings} account-control pairs have no finding")
            terminalreporter.write_line(f"findings are incomplete: {'; '.join(reasons)}", yellow=True)

    # --- helpers -----------------------------------------------------------------------

    def _store(self, evidence: list[Evidence]) -> None:
        for item in sorted(evidence, key=lambda each: (each.account_id is None, each.account_id or "", each.account.source)):
            label = item.account.label if item.account_id is None else _label(item)
            while label in self.evidence:
                label += "+"  # two sources named the same account; keep both visible
            self.evidence[label] = item

    def _home_regions(self) -> str:
        """Name the home Regions whose detection evidence was read, or state that none was read."""
        regions = sorted({item.detection.region for item in self.evidence.values() if item.detection is not None})
        if regions:
            return ", ".join(regions)
        region = self.config.getoption("region")
        return f"{region} (no detection evidence was read)" if region else "none: no detection evidence was read"

    def _labels_by_test_id(self) -> dict[str, str]:
        return {_test_id(label): label for label in self.evidence}

    def _findings_for_unjudged_tests(self) -> list[tuple[str, dict[str, Any]]]:
        """Give an error finding to each selected compliance test that ended without a verdict.

        That happens when a session stops early (`-x`, Ctrl-C) or a test fails outside its
        control. Under pytest-xdist a test that never reported is tied to its control through
        another test of the same function. A test that cannot be tied is listed in `not_run`.
        Returns (account label, finding) pairs.
        """
        controls_by_function = {_function_of(node_id): control for node_id, (_, control) in self.reported.items()}
        labels = self._labels_by_test_id()
        findings = []
        for node_id in sorted(set(self.selected) | set(self.reported)):
            if node_id in self.findings:
                continue
            pair = self.reported.get(node_id) or self.selected.get(node_id)
            if pair is None:
                control_id = controls_by_function.get(_function_of(node_id))
                label = labels.get(_test_id_of(node_id))
                if control_id is None or label is None:
                    self.not_run.append(node_id)
                    continue
                pair = (label, control_id)
            label, control_id = pair
            evidence = self.evidence.get(label)
            finding = {
                "account_id": evidence.account_id if evidence else None,
                "source": evidence.account.source if evidence else label,
                "control": control_id,
                "status": Status.ERROR.value,
                "message": (
                    f"No verdict was recorded: {node_id} did not run to a verdict (the session stopped "
                    "early, or the test failed outside its control)."
                    + (f" It failed with {self.crashes[node_id]}." if node_id in self.crashes else "")
                    + " Run it with --tb=short for pytest's report."
                ),
                "evidence": {},
            }
            findings.append((label, finding))
        return findings

    def _missing_tests_hint(self) -> list[str]:
        """Say where pytest looked for tests, and where the compliance tests are when it did not look there."""
        paths = self.selection["paths"]
        lines = [f"pytest collected tests from: {', '.join(paths)}"]
        tests_dir = PROJECT_TESTS
        searched = [resolve_test_path(self.config.invocation_params.dir, argument) for argument in paths]
        overlapping = [path for path in searched if path == tests_dir or path in tests_dir.parents or tests_dir in path.parents]
        if tests_dir.is_dir() and not overlapping:
            lines.append(f"The compliance tests are in {tests_dir}; add that path to the command.")
        return lines

    def _progress(self, done: int, total: int, errors: int, elapsed: float) -> None:
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None or not sys.stdout.isatty():
            return  # quiet when not on a terminal, so logs and CI output stay clean
        end = "\n" if done == total else ""
        errors_text = "1 error" if errors == 1 else f"{errors} errors"
        terminal.write(f"\rcollecting evidence: {done}/{total} accounts, {errors_text}, {elapsed:.1f} s{end}")

    def _add_metadata(self) -> None:
        try:
            from pytest_metadata.plugin import metadata_key
        except ImportError:
            return
        metadata = self.config.stash.get(metadata_key, None)
        if metadata is None:
            return
        generated = sorted(item.report_generated_time for item in self.evidence.values() if item.report_generated_time)
        # pytest-html renders environment values as HTML, so every value is escaped here.
        metadata["Evaluation time"] = format_value(self.settings.as_of)
        metadata["Root usage window (days)"] = str(self.settings.root_usage_days)
        metadata["Home Region"] = html.escape(self._home_regions())
        scope = [
            f"{option} {self.config.getoption(name)}"
            for option, name in (("--accounts", "accounts"), ("--exclude-accounts", "exclude_accounts"), ("--ou", "ou"))
            if self.config.getoption(name)
        ]
        metadata["Account filters"] = html.escape("; ".join(scope) or "none")
        metadata["Sources"] = html.escape(_summarize_sources(item.account.source for item in self.evidence.values()))
        if generated:
            metadata["Credential reports generated"] = f"{format_value(generated[0])} to {format_value(generated[-1])}"


_VERDICT_KEY = pytest.StashKey[tuple[Evidence, Verdict]]()
_FINDING_SENT_KEY = pytest.StashKey[bool]()


def _summarize_sources(sources: Iterable[str], shown: int = 10) -> str:
    """List the distinct sources, the first `shown` of them by name and the rest as a count."""
    distinct = sorted(set(sources))
    text = ", ".join(distinct[:shown])
    if len(distinct) > shown:
        text += f" and {len(distinct) - shown} more"
    return text


def _exempt_from_garbage_collection() -> None:
    """Keep the garbage collector from scanning, again and again, objects that live to the end.

    The evidence, the collected tests and their reports stay until the process exits. Each full
    collection scans all of them, and pytest runs five at the end (its unraisable-exception
    check), which took 3 to 4 s at 1,143 accounts. `gc.freeze` moves every object alive now out
    of the collector's reach, garbage in reference cycles included; the process frees them all
    when it exits. NOTE: a pytest run inside another process (pytester's inline runs) leaves
    them frozen in that process.
    """
    gc.freeze()


def _describe_failed_control(describe: Any, verdict: Verdict, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
    """Return the failure text of a test whose control failed: the verdict's message.

    The message names the evidence, which the assert's repr does not. Any other exception keeps
    pytest's description: the text given to pytest.fail, or the traceback of a bug in the test.
    """
    if excinfo.errisinstance(AssertionError):
        return verdict.message
    return describe(excinfo)


def _crash_text(report: pytest.TestReport) -> str:
    """Return the exception of a failed test report in one line, such as `KeyError: 'x'`."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message.splitlines()[0] if crash.message else "an exception"
    lines = str(report.longrepr).strip().splitlines()
    return lines[-1] if lines else "an exception"


def _verdict_after_test(verdict: Verdict, test_report: pytest.TestReport, call: pytest.CallInfo[None]) -> Verdict:
    """Return the verdict to record, made an error where the test broke in a way that its verdict cannot explain."""
    if verdict.status is Status.PASS and test_report.failed:
        # The test failed although its control passed, so the pass cannot be trusted.
        return Verdict(
            verdict.control,
            Status.ERROR,
            f"The control passed, but its test failed: {_crash_text(test_report)}. This is a bug in the "
            "test; run with --tb=short for its traceback.",
            verdict.evidence,
        )
    expected_endings = (AssertionError, pytest.fail.Exception, pytest.skip.Exception)
    if verdict.status is Status.FAIL and call.excinfo is not None and not call.excinfo.errisinstance(expected_endings):
        # The test broke before its assert could confirm the verdict.
        return Verdict(
            verdict.control,
            Status.ERROR,
            f"The control failed ({verdict.message}), but its test raised {_crash_text(test_report)} "
            "before it could check the verdict. This is a bug in the test; run with --tb=short for its "
            "traceback.",
            verdict.evidence,
        )
    return verdict


def _runs_no_test_call(config: pytest.Config) -> bool:
    """Return whether pytest only collects or sets up tests (--collect-only, --setup-only, --setup-plan)."""
    return bool(config.option.collectonly or config.getoption("setuponly", False) or config.getoption("setupplan", False))


def _pytest_result(report: pytest.TestReport) -> str:
    """Return the result that pytest counts for a report: its outcome, "error" for a failure outside
    the call, or "xfailed" and "xpassed" for a test expected to fail."""
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    return "error" if report.failed and report.when != "call" else report.outcome


def _longrepr_message(longrepr: Any) -> str | None:
    """Return the message of a failure or error longrepr that is plain text, or the reason of a skip."""
    if isinstance(longrepr, str):
        return longrepr.strip()
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        # pytest's longrepr of a skip: (path, line number, "Skipped: " + reason).
        return str(longrepr[2]).removeprefix("Skipped: ")
    return None


def _traceback_style_chosen(config: pytest.Config) -> bool:
    """Return whether --tb or --full-trace was given on the command line, in addopts or PYTEST_ADDOPTS."""
    arguments = [*config.invocation_params.args, *config.getini("addopts"), *os.environ.get("PYTEST_ADDOPTS", "").split()]
    return any(str(argument).startswith("--tb") or str(argument) == "--full-trace" for argument in arguments)


def _label(evidence: Evidence) -> str:
    account_id = evidence.account_id
    name = evidence.account.name
    return f"{account_id}-{name}" if name and name != account_id else str(account_id)


def _function_of(node_id: str) -> str:
    return node_id.split("[", 1)[0]


def _test_id_of(node_id: str) -> str:
    return node_id.split("[", 1)[1][:-1] if "[" in node_id else ""


# Printable ASCII that a test id keeps as it is. pytest escapes non-ASCII characters and
# backslashes in ids, "[" and "]" would make the id's brackets ambiguous, and "%" starts an
# escape, so the test id percent-encodes those.
_TEST_ID_SAFE = "".join(chr(code) for code in range(32, 127) if chr(code) not in "%[]\\")


def _test_id(label: str) -> str:
    """Return the test id of an account label, which pytest uses unchanged and which maps back to it."""
    return urllib.parse.quote(label, safe=_TEST_ID_SAFE)


def _parameter_label(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    return callspec.params.get("evidence")


def _recover_project_configuration(config: pytest.Config) -> None:
    """Run the compliance tests with the project's settings when pytest did not read pytest.ini.

    pytest reads the command line once before any plugin adds its options. A path given after a
    space, as in `--credential-reports ../exports`, then looks like a test path outside the
    project, so pytest looks for its configuration there and finds no pytest.ini. With no test
    path left, it would collect the whole current folder. When that happened in the project
    folder, this restores what pytest.ini sets: the compliance tests as the only test path, and
    the reasons of failures, errors and skips.
    """
    project = Path(__file__).resolve().parent.parent
    if config.inipath is not None or config.args_source is not pytest.Config.ArgsSource.INVOCATION_DIR:
        return
    if config.invocation_params.dir.resolve() != project:
        return
    config.args[:] = [str(project / COMPLIANCE_TESTS)]
    config.option.reportchars = "fEs"


def _runs_compliance_tests(config: pytest.Config) -> bool:
    """Return whether the run includes the compliance tests, by its paths or a source option."""
    if any(config.getoption(name) for name in ("demo", "org", "profiles", "credential_reports")):
        return True
    tests_dir = (config.rootpath / COMPLIANCE_TESTS).resolve()
    for argument in config.args:
        path = resolve_test_path(config.invocation_params.dir, argument)
        if path == tests_dir or tests_dir in path.parents or path in tests_dir.parents:
            return True
    return False


def _audit_settings(config: pytest.Config) -> AuditSettings:
    days = config.getoption("root_usage_days")
    if not 0 <= days <= MAX_ROOT_USAGE_DAYS:
        raise pytest.UsageError(f"--root-usage-days must be from 0 to {MAX_ROOT_USAGE_DAYS}, got {days}.")

    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and AS_OF_INPUT in workerinput:
        # Every worker judges at the controller's evaluation time, even when it defaults to now.
        return AuditSettings(datetime.fromisoformat(workerinput[AS_OF_INPUT]), days, workerinput[AS_OF_DEFAULT_INPUT])

    raw = config.getoption("as_of")
    if raw is None:
        return AuditSettings(datetime.now(timezone.utc).replace(microsecond=0), days, as_of_is_default=True)
    try:
        as_of = datetime.fromisoformat(raw)
    except ValueError:
        raise pytest.UsageError(f"--as-of {raw!r} is not an ISO 8601 timestamp; use e.g. 2026-06-01T00:00:00Z.") from None
    if as_of.tzinfo is None:
        raise pytest.UsageError(f"--as-of {raw!r} has no UTC offset; add Z or +00:00, e.g. 2026-06-01T00:00:00Z.")
    try:
        utc = as_of.astimezone(timezone.utc)
        # The window's start must be a representable date too.
        _ = utc - timedelta(days=days)
    except OverflowError:
        raise pytest.UsageError(f"--as-of {raw!r} minus {days} days is outside the years 1 to 9999.") from None
    return AuditSettings(utc, days)

