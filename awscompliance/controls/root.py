"""Controls for the root user: no use, no access key, MFA, hardware MFA.

Each control is a pure function of one account's evidence and the run's settings. They share one
preamble (`root_row_or_verdict`). An account whose evidence could not be collected is an error,
and so is a report without a root row, because "cannot evaluate" must never read as PASS or FAIL.
An account in a partition without a usable root user is skipped. The organization
controls reuse the preamble and the MFA and password facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from awscompliance.credential_report import AccessKeySlot, CredentialRow, Special, format_value
from awscompliance.evidence import AuditSettings, Evidence, Status, Verdict, VirtualMfaDevice

ROOT_USAGE = "root-usage"
ROOT_ACCESS_KEY = "root-access-key"
ROOT_MFA = "root-mfa"
ROOT_HARDWARE_MFA = "root-hardware-mfa"

# IAM generates a new credential report at most every four hours and otherwise returns the last one.
MAX_REPORT_AGE = timedelta(hours=4)

# AWS GovCloud (US) accounts have no usable root user, and the China Regions have no root user at
# all, so root controls do not apply there.
PARTITIONS_WITHOUT_ROOT = {
    "aws-us-gov": "AWS GovCloud (US) accounts have no usable root user",
    "aws-cn": "accounts in the AWS China Regions have no root user",
}


def root_usage(evidence: Evidence, settings: AuditSettings) -> Verdict:
    """Fail when root's password or an access key was used within the window, or after as_of."""
    row = root_row_or_verdict(ROOT_USAGE, evidence)
    if isinstance(row, Verdict):
        return row

    # N/A and no_information are "no recorded use", not dates.
    uses = {
        "password_last_used": row.password_last_used,
        "access_key_1_last_used_date": row.access_keys[0].last_used_date,
        "access_key_2_last_used_date": row.access_keys[1].last_used_date,
    }
    facts: dict[str, Any] = {name: format_value(value) for name, value in uses.items()}
    facts |= {"as_of": format_value(settings.as_of), "root_usage_days": settings.root_usage_days}
    facts |= _report_time(evidence)

    dated = {name: value for name, value in uses.items() if isinstance(value, datetime)}
    if not dated:
        recorded = ", ".join(f"{name}={facts[name]}" for name in uses)
        return _pass_if_report_covers(evidence, settings, f"No recorded root use: {recorded}.", facts)

    field_name, last_used = max(dated.items(), key=lambda item: item[1])
    when = f"{field_name}={format_value(last_used)}"
    if last_used > settings.as_of:
        return Verdict(
            ROOT_USAGE,
            Status.FAIL,
            f"Root was used after the evaluation time {format_value(settings.as_of)}: {when}. "
            "Find out who used root and why, and keep root for the few tasks that require it.",
            facts,
        )

    age = settings.as_of - last_used
    # "At most N days before" includes the boundary itself.
    if age <= timedelta(days=settings.root_usage_days):
        return Verdict(
            ROOT_USAGE,
            Status.FAIL,
            f"Root was used {_format_age(age)} before {format_value(settings.as_of)}, within the "
            f"{settings.root_usage_days}-day window: {when}. Find out who used root and why, and "
            "do daily work with IAM roles instead.",
            facts,
        )
    message = (
        f"Root was last used {_format_age(age)} before {format_value(settings.as_of)}, outside the "
        f"{settings.root_usage_days}-day window: {when}."
    )
    return _pass_if_report_covers(evidence, settings, message, facts)


def _pass_if_report_covers(evidence: Evidence, settings: AuditSettings, message: str, facts: dict[str, Any]) -> Verdict:
    """Pass root-usage only when the report is recent enough to show any use up to as_of.

    Use after the report was generated is not in it. IAM regenerates a report at most every four
    hours, so a live report is at most that old. An older one (saved evidence judged later) cannot
    show that root was unused, so the verdict is an error rather than a PASS. So is a report of
    unknown age judged at the run's start time.
    """
    generated = evidence.report_generated_time
    if generated is None and settings.as_of_is_default:
        # A hand-exported report keeps only its content, so it may be of any age, and use after
        # it would be missing. Only a given --as-of (the export's time) fixes the time it covers.
        return Verdict(
            ROOT_USAGE,
            Status.ERROR,
            f"The credential report's generation time is unknown, so it cannot show root use up to the "
            f"evaluation time {format_value(settings.as_of)}, the run's start. Give the time the report was "
            "exported with --as-of, or collect the account live.",
            facts,
        )
    if generated is not None and settings.as_of - generated > MAX_REPORT_AGE:
        return Verdict(
            ROOT_USAGE,
            Status.ERROR,
            f"The credential report was generated at {format_value(generated)}, {_format_age(settings.as_of - generated)} "
            f"before the evaluation time {format_value(settings.as_of)}, so root use after it is not in the report. "
            "Collect a new report, or judge the saved evidence at its own time with --as-of.",
            facts,
        )
    return Verdict(ROOT_USAGE, Status.PASS, message, facts)


def root_access_key(evidence: Evidence, settings: AuditSettings) -> Verdict:
    """Fail when any root access key exists, active or inactive."""
    row = root_row_or_verdict(ROOT_ACCESS_KEY, evidence)
    if isinstance(row, Verdict):
        return row

    facts: dict[str, Any] = {}
    for key in row.access_keys:
        facts[f"access_key_{key.number}_active"] = format_value(key.active)
        facts[f"access_key_{key.number}_last_rotated"] = format_value(key.last_rotated)
        facts[f"access_key_{key.number}_last_used_date"] = format_value(key.last_used_date)
    facts |= _report_time(evidence)
    summary_count = _summary_value(evidence, "AccountAccessKeysPresent")
    if summary_count is not None:
        facts["AccountAccessKeysPresent"] = summary_count

    # An inactive key shows access_key_N_active=false but keeps its last_rotated date: it exists
    # and can be reactivated, so it fails too.
    existing = [key for key in row.access_keys if key.exists]
    described = "; ".join(_describe_key(key) for key in existing)

    # AccountAccessKeysPresent counts inactive keys too. The summary is read live and the report
    # can be up to four hours old, so where they disagree the summary wins.
    if summary_count is not None and bool(summary_count) != bool(existing) and not summary_is_newer(evidence):
        return Verdict(
            ROOT_ACCESS_KEY,
            Status.FAIL,
            f"The credential report shows {described or 'no root key'} but the account summary shows "
            f"AccountAccessKeysPresent={summary_count}, and nothing shows which is newer, so a root key may "
            "exist. Check the root user's security credentials, delete any key, and export both again.",
            facts,
        )
    if summary_count is not None and bool(summary_count) != bool(existing):
        if summary_count:
            return Verdict(
                ROOT_ACCESS_KEY,
                Status.FAIL,
                f"The account summary shows AccountAccessKeysPresent={summary_count}, but the credential "
                f"report{_generated_suffix(evidence)} shows no root key; the summary is newer, so a key "
                "was created since. Delete the root access key.",
                facts,
            )
        return Verdict(
            ROOT_ACCESS_KEY,
            Status.PASS,
            f"The account summary shows AccountAccessKeysPresent=0; the older credential report"
            f"{_generated_suffix(evidence)} still shows {described}, so the key was deleted since.",
            facts,
        )

    if existing:
        return Verdict(
            ROOT_ACCESS_KEY,
            Status.FAIL,
            f"Root has {described}. Delete it: deactivating is not enough, because an inactive key "
            "can be activated again.",
            facts,
        )
    shown = ", ".join(f"{name}={value}" for name, value in facts.items() if name.endswith(("_active", "_rotated")))
    return Verdict(ROOT_ACCESS_KEY, Status.PASS, f"Root has no access key: {shown}.", facts)


def root_mfa(evidence: Evidence, settings: AuditSettings) -> Verdict:
    """Pass when root has MFA, or has no password for MFA to protect."""
    row = root_row_or_verdict(ROOT_MFA, evidence)
    if isinstance(row, Verdict):
        return row

    mfa = mfa_fact(evidence, row)
    password = password_fact(evidence, row)
    facts = mfa.facts | password.facts | _report_time(evidence)
    notes = _join(mfa.note, password.note)

    if mfa.value is True:
        return Verdict(ROOT_MFA, Status.PASS, _join(f"Root MFA is enabled ({mfa.shown}).", notes), facts)

    # MFA protects sign-in, and sign-in needs a password: CIS v5+ and Security Hub IAM.9 pass a
    # root user without a password.
    if password.value is False:
        message = (
            f"Root has no password ({password.shown}), so there is no sign-in for MFA to protect "
            f"({mfa.shown})."
        )
        return Verdict(ROOT_MFA, Status.PASS, _join(message, _leftover_credentials(evidence, row), notes), facts)

    if password.value is None:
        message = (
            f"Root MFA is not enabled ({mfa.shown}), and the credential report cannot tell whether root "
            f"has a password ({password.shown}). Enable MFA for root; if its password was removed, "
            "collect the account summary (iam:GetAccountSummary, AccountPasswordPresent) to show it."
        )
        return Verdict(ROOT_MFA, Status.FAIL, _join(message, notes), facts)

    message = (
        f"Root has a password ({password.shown}) and no MFA ({mfa.shown}). Enable MFA for the root user, "
        "preferably a hardware security key."
    )
    return Verdict(ROOT_MFA, Status.FAIL, _join(message, notes), facts)


def root_hardware_mfa(evidence: Evidence, settings: AuditSettings) -> Verdict:
    """Pass when root's MFA is hardware only, or root has no password."""
    row = root_row_or_verdict(ROOT_HARDWARE_MFA, evidence)
    if isinstance(row, Verdict):
        return row

    mfa = mfa_fact(evidence, row)
    password = password_fact(evidence, row)
    facts = mfa.facts | password.facts | _report_time(evidence)
    notes = _join(mfa.note, password.note)
    devices = evidence.virtual_mfa_devices
    # Root's virtual devices are the ones assigned to root's exact ARN. Device names prove
    # nothing: any virtual device can have any name, an IAM user's included.
    root_devices = [device for device in devices or [] if device.user_arn == row.arn]
    if devices is not None:
        facts["virtual_mfa_devices_assigned_to_root"] = [device.serial_number for device in root_devices]

    if password.value is False:
        message = f"Root has no password ({password.shown}), so there is no sign-in for MFA to protect."
        if root_devices:
            message += f" A virtual MFA device is still assigned to root ({_serials(root_devices)}); remove it."
        return Verdict(ROOT_HARDWARE_MFA, Status.PASS, _join(message, notes), facts)

    if mfa.value is not True:
        unknown_password = ""
        if password.value is None:
            unknown_password = f" The report cannot tell whether root has a password ({password.shown})."
        message = f"Root has no MFA ({mfa.shown}).{unknown_password} Enable a hardware MFA device for root."
        return Verdict(ROOT_HARDWARE_MFA, Status.FAIL, _join(message, notes), facts)

    if devices is None and evidence.virtual_mfa_devices_error is not None:
        # The list was asked for and could not be read: the account could not be judged.
        return Verdict(
            ROOT_HARDWARE_MFA,
            Status.ERROR,
            f"Root MFA is enabled ({mfa.shown}), but whether it is hardware or virtual cannot be told: "
            f"{evidence.virtual_mfa_devices_error}",
            facts,
        )
    if devices is None:
        reason = "no virtual MFA device list was provided"
        message = (
            f"Root MFA is enabled ({mfa.shown}), but whether it is hardware or virtual cannot be told: {reason}. "
            "Provide the virtual MFA device list (iam:ListVirtualMFADevices, or virtual_mfa_devices.json "
            "beside an offline report)."
        )
        return Verdict(ROOT_HARDWARE_MFA, Status.SKIP, message, facts)

    # CIS and AWS Config fail any virtual device on root, even next to a hardware key.
    if root_devices:
        message = (
            f"A virtual MFA device is assigned to root ({_serials(root_devices)}, User.Arn={row.arn}). "
            "Replace it with a hardware MFA device and deactivate the virtual one."
        )
        return Verdict(ROOT_HARDWARE_MFA, Status.FAIL, _join(message, notes), facts)

    # NOTE: synced passkeys are not hardware-bound, yet like security keys they are absent from the
    # virtual-device list; the API cannot tell the two apart.
    message = (
        f"Root MFA is enabled ({mfa.shown}) and none of the account's {len(devices)} assigned virtual MFA "
        f"devices belongs to root ({row.arn}), so root uses a hardware device or passkey."
    )
    return Verdict(ROOT_HARDWARE_MFA, Status.PASS, _join(message, notes), facts)


def root_row_or_verdict(control: str, evidence: Evidence) -> CredentialRow | Verdict:
    """Return the root row, or the verdict for an account where the control cannot judge root."""
    source = {"source": evidence.account.source}
    if evidence.error is not None:
        return Verdict(control, Status.ERROR, evidence.error, source)

    report = evidence.credential_report
    if report is None:
        return Verdict(control, Status.ERROR, "No credential report was collected for this account.", source)

    reason = PARTITIONS_WITHOUT_ROOT.get(report.partition)
    if reason is not None:
        return Verdict(
            control,
            Status.SKIP,
            f"Not applicable: {reason} (partition {report.partition}, account {report.account_id}).",
            source | {"partition": report.partition},
        )

    if report.root is None:
        return Verdict(
            control,
            Status.ERROR,
            f"The credential report of account {report.account_id} has no root row (user <root_account>, "
            f"arn arn:{report.partition}:iam::{report.account_id}:root), so root cannot be evaluated. "
            "Export the complete report again with iam:GetCredentialReport.",
            source,
        )
    return report.root


@dataclass(frozen=True)
class Fact:
    """A yes/no fact about root, from the account summary or the report."""

    # True/False, or None when the evidence cannot tell.
    value: bool | None
    # The field and value it rests on, for messages, e.g. "AccountMFAEnabled=1".
    shown: str
    facts: dict[str, Any]
    # Why the summary overrode the report, when they disagree.
    note: str | None = None


def mfa_fact(evidence: Evidence, row: CredentialRow) -> Fact:
    return _summary_over_report(evidence, "AccountMFAEnabled", "mfa_active", row.mfa_active)


def password_fact(evidence: Evidence, row: CredentialRow) -> Fact:
    # On the root row password_enabled is true/false, or not_supported where the report cannot tell
    # (older reports and some partitions). Only the account summary settles that case.
    return _summary_over_report(evidence, "AccountPasswordPresent", "password_enabled", row.password_enabled)


def _summary_over_report(evidence: Evidence, summary_key: str, column: str, report_value: bool | Special) -> Fact:
    report_shown = f"{column}={format_value(report_value)}"
    facts: dict[str, Any] = {column: format_value(report_value)}
    report_bool = report_value if isinstance(report_value, bool) else None

    summary_count = _summary_value(evidence, summary_key)
    if summary_count is None:
        return Fact(report_bool, report_shown, facts)

    facts[summary_key] = summary_count
    summary_bool = summary_count > 0
    shown = f"{summary_key}={summary_count}"
    if report_bool is None or report_bool == summary_bool:
        return Fact(summary_bool, shown, facts)

    if summary_is_newer(evidence):
        # The summary is read live after the report, which can be up to four hours old.
        note = (
            f"The credential report{_generated_suffix(evidence)} shows {report_shown}, but the newer "
            f"account summary shows {shown}; the summary is used."
        )
        return Fact(summary_bool, shown, facts, note)
    note = (
        f"The credential report shows {report_shown} but the account summary shows {shown}, and nothing "
        "shows which is newer, so neither is trusted. Export both again at the same time."
    )
    return Fact(None, f"{report_shown} but {shown}", facts, note)


def summary_is_newer(evidence: Evidence) -> bool:
    """Return whether the account summary was provably read after the credential report."""
    summary_time = evidence.account_summary_time
    generated = evidence.report_generated_time
    return summary_time is not None and (generated is None or summary_time >= generated)


def _summary_value(evidence: Evidence, key: str) -> int | None:
    if evidence.account_summary is None:
        return None
    return evidence.account_summary.get(key)


def api_credentials(evidence: Evidence, row: CredentialRow) -> list[str]:
    """Name root's access keys and signing certificates, which call AWS APIs without MFA."""
    credentials = [f"access key {key.number}" for key in row.access_keys if key.exists]
    credentials += [f"signing certificate {cert.number}" for cert in row.certificates if cert.exists]
    if not any("access key" in item for item in credentials) and _summary_value(evidence, "AccountAccessKeysPresent"):
        credentials.append("an access key (AccountAccessKeysPresent)")
    if not any("certificate" in item for item in credentials) and _summary_value(
        evidence, "AccountSigningCertificatesPresent"
    ):
        credentials.append("a signing certificate (AccountSigningCertificatesPresent)")
    return credentials


def _leftover_credentials(evidence: Evidence, row: CredentialRow) -> str | None:
    """Name any root access key or signing certificate that outlived the password."""
    leftovers = api_credentials(evidence, row)
    if not leftovers:
        return None
    pronoun = "it" if len(leftovers) == 1 else "them"
    return (
        f"Root still has {', '.join(leftovers)}, which can call AWS APIs without MFA; "
        f"the root-access-key control judges the keys. Delete {pronoun}."
    )


def _describe_key(key: AccessKeySlot) -> str:
    state = "active" if key.active is True else "inactive"
    used = format_value(key.last_used_date)
    if key.last_used_date is Special.NOT_APPLICABLE:
        used = "never"
    elif key.last_used_region and key.last_used_region != "N/A":
        used += f" in {key.last_used_region}"
    return (
        f"access key {key.number} ({state}, access_key_{key.number}_last_rotated="
        f"{format_value(key.last_rotated)}, last used {used})"
    )


def _report_time(evidence: Evidence) -> dict[str, Any]:
    if evidence.report_generated_time is None:
        return {}
    return {"report_generated_time": format_value(evidence.report_generated_time)}


def _generated_suffix(evidence: Evidence) -> str:
    if evidence.report_generated_time is None:
        return ""
    return f" (generated {format_value(evidence.report_generated_time)})"


def _serials(devices: list[VirtualMfaDevice]) -> str:
    return ", ".join(device.serial_number for device in devices)


def _format_age(age: timedelta) -> str:
    """Render an age exactly to the second, so it never seems to contradict the window."""
    seconds = int(age.total_seconds())
    days, remainder = divmod(seconds, 86400)
    hours, remainder = divmod(remainder, 3600)
    minutes, seconds = divmod(remainder, 60)
    day_word = "day" if days == 1 else "days"
    return f"{days} {day_word} {hours:02d}:{minutes:02d}:{seconds:02d}"


def _join(*parts: str | None) -> str | None:
    present = [part for part in parts if part]
    return " ".join(present) if present else None
