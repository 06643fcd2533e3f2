"""Reports built from the recorded verdicts: findings.json, the fleet summary, HTML fragments."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from awscompliance.catalog import CONTROLS, framework_ids
from awscompliance.credential_report import format_value
from awscompliance.evidence import AuditSettings, Evidence, Status, Verdict

logger = logging.getLogger(__name__)


def account_record(evidence: Evidence) -> dict[str, Any]:
    """Describe one audited account for findings.json."""
    generated = evidence.report_generated_time
    return {
        "account_id": evidence.account_id,
        "name": evidence.account.name,
        "source": evidence.account.source,
        "partition": evidence.partition,
        "organization_role": organization_role(evidence),
        "ou_path": list(evidence.account.ou_path),
        "report_generated_time": format_value(generated) if generated else None,
    }


def organization_role(evidence: Evidence) -> str:
    """Return "management", "member" or "standalone" (not in an organization, or read without access to it)."""
    if evidence.organization is not None:
        return evidence.organization.role
    return evidence.account.organization_role or "standalone"


def finding_record(evidence: Evidence, verdict: Verdict) -> dict[str, Any]:
    """Turn one verdict into a finding of findings.json."""
    return {
        "account_id": evidence.account_id,
        "source": evidence.account.source,
        "control": verdict.control,
        "status": verdict.status.value,
        "message": verdict.message,
        "evidence": verdict.evidence,
    }


@dataclass(frozen=True)
class SummaryRow:
    """One control's count of each status over the fleet, or the counts over all controls."""

    control: str
    title: str
    passed: int
    failed: int
    errors: int
    skipped: int

    @property
    def results(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped

    @property
    def evaluated(self) -> int:
        """Accounts with a pass or fail verdict; errors and skips are not judged."""
        return self.passed + self.failed

    @property
    def failed_percent(self) -> float | None:
        if self.evaluated == 0:
            return None
        return 100.0 * self.failed / self.evaluated


def fleet_summary(findings: Iterable[dict[str, Any]]) -> list[SummaryRow]:
    """Count verdicts per control, with a row for every control that has findings, in catalog order.

    Controls deselected with `-k` have no findings and get no row, rather than a row of zeros.
    """
    findings = list(findings)
    present = {finding["control"] for finding in findings}
    counts: dict[str, dict[str, int]] = {control_id: {} for control_id in CONTROLS if control_id in present}
    for finding in findings:
        per_status = counts.setdefault(finding["control"], {})
        per_status[finding["status"]] = per_status.get(finding["status"], 0) + 1

    rows = []
    for control_id, per_status in counts.items():
        control = CONTROLS.get(control_id)
        rows.append(
            SummaryRow(
                control=control_id,
                title=control.title if control else control_id,
                passed=per_status.get(Status.PASS.value, 0),
                failed=per_status.get(Status.FAIL.value, 0),
                errors=per_status.get(Status.ERROR.value, 0),
                skipped=per_status.get(Status.SKIP.value, 0),
            )
        )
    return rows


def summary_total(rows: Sequence[SummaryRow]) -> SummaryRow:
    """Add up the rows of the fleet summary."""
    return SummaryRow(
        control="all controls",
        title="All controls",
        passed=sum(row.passed for row in rows),
        failed=sum(row.failed for row in rows),
        errors=sum(row.errors for row in rows),
        skipped=sum(row.skipped for row in rows),
    )


def status_totals_text(total: SummaryRow) -> str:
    """Return the count of each status, e.g. "6 results: 2 passed, 2 failed, 1 error, 1 skipped"."""
    errors = "1 error" if total.errors == 1 else f"{total.errors} errors"
    result_word = "result" if total.results == 1 else "results"
    return f"{total.results} {result_word}: {total.passed} passed, {total.failed} failed, {errors}, {total.skipped} skipped"


@dataclass(frozen=True)
class Coverage:
    """How much of the audited accounts and the catalog a run's findings cover."""

    # Audited accounts with at least one finding.
    accounts: int
    # Accounts whose evidence was collected.
    audited_accounts: int
    # Catalog ids of the controls with at least one finding, in catalog order.
    controls: tuple[str, ...]
    # Pairs of an audited account and a catalog control without a finding.
    missing_findings: int
    # The options that chose the tests, as command-line text, e.g. "-k mfa".
    filters: tuple[str, ...] = ()


def coverage(labelled: Iterable[tuple[str, dict[str, Any]]], account_labels: Iterable[str], filters: Iterable[str]) -> Coverage:
    """Measure which audited accounts and catalog controls have findings.

    `labelled` contains (account label, finding) pairs, and `account_labels` every audited account's label.
    """
    labels = set(account_labels)
    pairs = {(label, finding["control"]) for label, finding in labelled if label in labels and finding["control"] in CONTROLS}
    controls = {control for _, control in pairs}
    return Coverage(
        accounts=len({label for label, _ in pairs}),
        audited_accounts=len(labels),
        controls=tuple(control for control in CONTROLS if control in controls),
        missing_findings=len(labels) * len(CONTROLS) - len(pairs),
        filters=tuple(filters),
    )


def scope_text(coverage: Coverage) -> str:
    """Return what a run evaluated, e.g. "13 accounts", or "2 of 13 accounts, 3 of 10 controls" when it left some out."""
    if coverage.missing_findings == 0:
        return _count(coverage.accounts, "account")
    accounts = f"{coverage.accounts} of {_count(coverage.audited_accounts, 'account')}"
    return f"{accounts}, {len(coverage.controls)} of {_count(len(CONTROLS), 'control')}"


def selection_text(coverage: Coverage) -> str | None:
    """Describe what the run left out of the audit and the options that chose its tests.

    Returns None when every audited account has a finding for every catalog control and no
    option chose the tests.
    """
    filters = f"Tests selected with: {' '.join(coverage.filters)}" if coverage.filters else ""
    if coverage.accounts == 0:
        text = f"No compliance test ran, so none of the {_count(coverage.audited_accounts, 'account')} was evaluated."
        return f"{text} {filters}." if filters else text
    if coverage.missing_findings:
        pairs = coverage.audited_accounts * len(CONTROLS)
        text = (
            f"{coverage.missing_findings} of {pairs} account-control pairs have no finding, because their tests were "
            "not selected or did not run."
        )
        return f"{text} {filters}." if filters else text
    if filters:
        return f"{filters}, which left out no account or control."
    return None


def write_findings_json(
    path: Path,
    settings: AuditSettings,
    generated_at: datetime,
    evidence: Sequence[Evidence],
    findings: Sequence[dict[str, Any]],
    coverage: Coverage,
    selection: dict[str, Any],
    complete: bool = True,
    not_run: Sequence[str] = (),
) -> None:
    """Write findings.json, sorted by account and catalog order so that runs compare cleanly.

    `complete` is false when no compliance test was selected, or some selected test ended
    without a verdict: those have error findings, or, when not even their control is known, are
    listed in `not_run`. `controls` and `missing_findings` say what the selection (`selection`)
    left out, so a reader can tell a full audit from a partial one.
    """
    order = {control_id: index for index, control_id in enumerate(CONTROLS)}
    document = {
        "as_of": format_value(settings.as_of),
        "root_usage_days": settings.root_usage_days,
        "generated_at": format_value(generated_at),
        "complete": complete,
        "not_run": list(not_run),
        "controls": list(coverage.controls),
        "missing_findings": coverage.missing_findings,
        "selection": selection,
        "accounts": [account_record(item) for item in evidence],
        "findings": sorted(
            findings,
            key=lambda finding: (
                finding["account_id"] or "",
                finding["source"],
                order.get(finding["control"], len(order)),
            ),
        ),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %d findings to %s", len(findings), path)


def summary_html(
    rows: Sequence[SummaryRow], coverage: Coverage, findings_unlike_pytest: int = 0, seconds: float | None = None
) -> str:
    """Render the fleet summary as HTML for the top of the pytest-html report.

    `findings_unlike_pytest` counts findings whose status differs from pytest's result for their
    test, and `seconds` is the time that evidence collection and tests took.
    """
    header = "".join(
        f"<th>{name}</th>"
        for name in ("Control", "Title", "Frameworks", "Passed", "Failed", "Failed %", "Errors", "Skipped")
    )
    body = []
    for row in rows:
        control = CONTROLS.get(row.control)
        frameworks = framework_ids(control) if control else ""
        body.append(_summary_html_row((row.control, row.title, frameworks), row))
    total = summary_total(rows)
    totals = status_totals_text(total) + "."
    if seconds is not None:
        totals += f" Evidence collection and tests took {seconds:.1f} s."
    notes = [
        "Failed % is the share of failed results among those that passed or failed; errors and skips were not judged.",
        # pytest-html 4.2.0's own count of tests, which the plugin hides, leaves out errors and skips.
        "pytest-html's filters below count pytest's results for the same tests: a failed control is counted "
        "in Failed, an error is counted in Errors, because its test stops in setup, and a skip is counted in Skipped.",
    ]
    if findings_unlike_pytest:
        verb = "differs" if findings_unlike_pytest == 1 else "differ"
        notes.append(
            f"{_count(findings_unlike_pytest, 'finding')} {verb} from pytest's result for the test, because the "
            "test did not end with its control's verdict; the finding's message says why."
        )

    parts = [f"<h2>Fleet summary: {html.escape(scope_text(coverage))}</h2>"]
    selection = selection_text(coverage)
    if selection:
        parts.append(f'<p id="selection"><strong>{html.escape(selection, quote=False)}</strong></p>')
    parts.append(f'<p id="result-totals">{html.escape(totals)}</p>')
    parts.append(
        '<table id="fleet-summary" class="summary-table" border="1" cellpadding="4">'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody>"
        f"<tfoot>{_summary_html_row((total.title, '', ''), total)}</tfoot></table>"
    )
    parts += [f"<p>{html.escape(note, quote=False)}</p>" for note in notes]
    return "".join(parts)


def _summary_html_row(labels: tuple[str, str, str], row: SummaryRow) -> str:
    cells = (*labels, row.passed, row.failed, _percent(row.failed_percent), row.errors, row.skipped)
    return "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells) + "</tr>"


def summary_lines(rows: Sequence[SummaryRow], coverage: Coverage) -> list[str]:
    """Render the fleet summary as plain-text lines for the terminal."""
    total = summary_total(rows)
    width = max(len(row.control) for row in [*rows, total])
    lines = [
        f"{scope_text(coverage)}, {status_totals_text(total)}",
        f"{'control':<{width}}  passed  failed  failed %  errors  skipped",
    ]
    for row in [*rows, total]:
        lines.append(
            f"{row.control:<{width}}  {row.passed:>6}  {row.failed:>6}  {_percent(row.failed_percent):>8}"
            f"  {row.errors:>6}  {row.skipped:>7}"
        )
    return lines


def problem_lines(findings: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
    """List the errors, then the failures, one line each: status, control, account label, message.

    `findings` contains (account label, finding) pairs; passes and skips are left out.
    """
    order = {Status.ERROR.value: 0, Status.FAIL.value: 1}
    chosen = sorted(
        (pair for pair in findings if pair[1]["status"] in order),
        key=lambda pair: (order[pair[1]["status"]], pair[1]["control"], pair[0]),
    )
    return [f"{finding['status'].upper():<5} {finding['control']} {label}: {finding['message']}" for label, finding in chosen]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"
