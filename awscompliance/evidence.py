"""The data that flows from collection to verdicts: accounts, evidence and verdicts.

Live collection, offline files and the demo all produce the same `Evidence`, so every control
is a pure function of it and can be tested without AWS or pytest.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from awscompliance.credential_report import CredentialReport

if TYPE_CHECKING:  # imported for annotations only, because both modules import this one
    from awscompliance.detection import DetectionEvidence
    from awscompliance.organization import OrganizationContext


class Status(str, enum.Enum):
    """Outcome of one control for one account."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"


@dataclass(frozen=True)
class Account:
    """One AWS account to audit, as its source describes it before any evidence is read."""

    # 12-digit id, or None when an offline file is too broken to name its account.
    account_id: str | None
    # Evidence source: "profile prod", "default credentials", a file path, "demo".
    source: str
    # Account alias or profile name, shown next to the id; None when unknown.
    name: str | None = None
    # "management" or "member" for accounts discovered through AWS Organizations, else None.
    organization_role: str | None = None
    # OU ids from the organization root down to the account's parent; empty outside --org.
    ou_path: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Test id and display name: the account id, plus the name where known."""
        base = self.account_id or self.source
        if self.name and self.name != self.account_id:
            return f"{base} ({self.name})"
        return base


@dataclass(frozen=True)
class VirtualMfaDevice:
    """One assigned virtual MFA device, as `ListVirtualMFADevices` returns it."""

    serial_number: str
    # ARN of the principal the device is assigned to; None when the device is unassigned.
    user_arn: str | None
    enable_date: datetime | None = None


@dataclass
class Evidence:
    """Everything collected for one account, as plain data.

    `error` is set when collection failed as a whole (access denied, a bad file, a report that
    never became ready): every control then reports an error with that message. The optional
    pieces (`account_summary`, `virtual_mfa_devices`) are None when not collected, and the
    matching `*_error` field gives the reason when collection was tried and failed.
    """

    account: Account
    # Parsed credential report; None when `error` is set.
    credential_report: CredentialReport | None = None
    # When IAM generated the report (`GeneratedTime`, UTC); None for offline files without it.
    report_generated_time: datetime | None = None
    # `GetAccountSummary` `SummaryMap`: integer counters such as `AccountMFAEnabled`.
    account_summary: dict[str, int] | None = None
    # When the summary was read (UTC); None for a hand-exported file, whose age is unknown.
    account_summary_time: datetime | None = None
    account_summary_error: str | None = None
    # Virtual MFA devices assigned to any principal of the account, or None when not collected.
    virtual_mfa_devices: list[VirtualMfaDevice] | None = None
    virtual_mfa_devices_error: str | None = None
    # Organization context (role, centralized root access, SCP path); None when unknown, as for
    # offline reports saved without it.
    organization: OrganizationContext | None = None
    # Root-use detection (CloudTrail, CloudWatch, GuardDuty, AWS Config) in the home Region;
    # None when not collected.
    detection: DetectionEvidence | None = None
    # Why the evidence could not be collected at all; None on success.
    error: str | None = None

    @property
    def account_id(self) -> str | None:
        """Account id from the report's ARNs, else the one the source gave."""
        if self.credential_report is not None and self.credential_report.account_id:
            return self.credential_report.account_id
        return self.account.account_id

    @property
    def partition(self) -> str | None:
        """ARN partition (`aws`, `aws-us-gov`, `aws-cn`, ...) read from the report."""
        if self.credential_report is None:
            return None
        return self.credential_report.partition


@dataclass(frozen=True)
class Verdict:
    """A control's judgement of one account: the status, why, and the evidence it rests on."""

    control: str
    status: Status
    # One or two sentences naming the field, its value or date, and what to do.
    message: str
    # Field name -> value the verdict rests on, JSON-serializable.
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditSettings:
    """The parameters every control is evaluated with, fixed once per run."""

    # Evaluation time, timezone-aware UTC; controls never read the clock themselves.
    as_of: datetime
    # Root use at most this many days before `as_of` fails the root-usage control.
    root_usage_days: int = 7
    # True when `as_of` is the run's start because no evaluation time was given (--as-of).
    as_of_is_default: bool = False

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None or self.as_of.utcoffset() is None:
            raise ValueError(f"as_of must be timezone-aware, got {self.as_of.isoformat()}")
        if self.root_usage_days < 0:
            raise ValueError(f"root_usage_days must be 0 or more, got {self.root_usage_days}")
