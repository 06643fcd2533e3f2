"""The control catalog: what each control checks, why, and how to fix a failure.

Tests, the HTML report and findings.json all read control metadata from here, so a control's
title or framework ids are written once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from awscompliance.controls import detection, organization, root
from awscompliance.evidence import AuditSettings, Evidence, Verdict


@dataclass(frozen=True)
class Control:
    """One best practice and the function that judges it."""

    id: str
    title: str
    # "critical", "high", "medium", "low" or "informational", as Security Hub grades findings.
    severity: str
    # CIS AWS Foundations Benchmark item per version range, e.g. {"v1.4-v4.0": "1.5", "v5.0": "1.4"}.
    cis: dict[str, str]
    security_hub: str | None
    config_rule: str | None
    rationale: str
    remediation: str
    evaluate: Callable[[Evidence, AuditSettings], Verdict]


CONTROLS: dict[str, Control] = {
    control.id: control
    for control in (
        Control(
            id=root.ROOT_USAGE,
            title="Eliminate use of the root user",
            severity="high",
            cis={"v1.4-v4.0": "1.7", "v5.0": "1.6", "v6.0": "2.6", "v7.0": "2.7"},
            security_hub=None,
            config_rule=None,
            rationale="Root has unrestricted access that no IAM policy can limit; daily use exposes it.",
            remediation="Use IAM roles for daily work and keep root for the tasks that require it.",
            evaluate=root.root_usage,
        ),
        Control(
            id=root.ROOT_ACCESS_KEY,
            title="No root user access key exists",
            severity="critical",
            cis={"v1.4-v4.0": "1.4", "v5.0": "1.3", "v6.0": "2.3", "v7.0": "2.4"},
            security_hub="IAM.4",
            config_rule="iam-root-access-key-check",
            rationale="A root access key gives full, long-lived API access without MFA.",
            remediation="Sign in as root and delete the access key under Security credentials.",
            evaluate=root.root_access_key,
        ),
        Control(
            id=root.ROOT_MFA,
            title="MFA is enabled for the root user",
            severity="critical",
            cis={"v1.4-v4.0": "1.5", "v5.0": "1.4", "v6.0": "2.4", "v7.0": "2.5"},
            security_hub="IAM.9",
            config_rule="root-account-mfa-enabled",
            rationale="Without MFA, the root password alone gives full control of the account.",
            remediation="Assign an MFA device to the root user, or remove root credentials centrally.",
            evaluate=root.root_mfa,
        ),
        Control(
            id=root.ROOT_HARDWARE_MFA,
            title="Hardware MFA is enabled for the root user",
            severity="high",
            cis={"v1.4-v4.0": "1.6", "v5.0": "1.5", "v6.0": "2.5", "v7.0": "2.6"},
            security_hub="IAM.6",
            config_rule="root-account-hardware-mfa-enabled",
            rationale="A virtual MFA device lives on a phone or computer that can be copied or compromised.",
            remediation="Register a FIDO security key or hardware TOTP token for root and remove virtual devices.",
            evaluate=root.root_hardware_mfa,
        ),
        Control(
            id=organization.ROOT_CREDENTIALS_CENTRALIZED,
            title="Member root credentials are removed centrally",
            severity="medium",
            cis={"v7.0": "2.1.1"},
            security_hub=None,
            config_rule=None,
            rationale="Root credentials that do not exist cannot be stolen; AWS Organizations can delete them.",
            remediation="Enable RootCredentialsManagement in IAM and delete each member's root credentials.",
            evaluate=organization.root_credentials_centralized,
        ),
        Control(
            id=organization.ROOT_MFA_ENFORCED,
            title="Root cannot act without MFA",
            severity="high",
            cis={},
            security_hub=None,
            config_rule=None,
            rationale="Account-level MFA, the absence of a password, or an SCP can each stop root acting without MFA.",
            remediation="Enable root MFA, or attach an SCP that denies root every action without MFA (BoolIfExists).",
            evaluate=organization.root_mfa_enforced,
        ),
        Control(
            id=organization.ROOT_IP_RESTRICTED,
            title="Root is restricted to known source IPs",
            severity="informational",
            cis={},
            security_hub=None,
            config_rule=None,
            rationale="An SCP that denies root outside the corporate network limits where stolen root credentials work.",
            remediation="Attach an SCP denying root requests with NotIpAddress aws:SourceIp outside your ranges.",
            evaluate=organization.root_ip_restricted,
        ),
        Control(
            id=detection.ROOT_USE_ALARM,
            title="Root use raises an alarm",
            severity="medium",
            cis={"v1.4-v4.0": "4.3", "v5.0": "4.3", "v6.0": "5.3", "v7.0": "5.3"},
            security_hub="CloudWatch.1",
            config_rule=None,
            rationale="Root use that nobody is told about cannot be investigated in time.",
            remediation=(
                "Deliver a multi-Region trail to CloudWatch Logs, add the CIS root-use metric filter, an alarm "
                "on its metric and an SNS topic with a confirmed subscriber."
            ),
            evaluate=detection.root_use_alarm,
        ),
        Control(
            id=detection.ROOT_USE_DETECTED_BY_GUARDDUTY,
            title="GuardDuty detects root credential use",
            severity="low",
            cis={},
            security_hub=None,
            config_rule=None,
            rationale="GuardDuty reports Policy:IAMUser/RootCredentialUsage, at Low severity.",
            remediation="Enable GuardDuty in the home Region, and route Low-severity root findings to an alert.",
            evaluate=detection.root_use_detected_by_guardduty,
        ),
        Control(
            id=detection.ROOT_CONFIG_RULES,
            title="AWS Config watches root credentials",
            severity="low",
            cis={},
            security_hub=None,
            config_rule=None,
            rationale="AWS Config's managed root rules re-check root MFA and keys every day.",
            remediation=(
                "Deploy ROOT_ACCOUNT_MFA_ENABLED, ROOT_ACCOUNT_HARDWARE_MFA_ENABLED and IAM_ROOT_ACCESS_KEY_CHECK "
                "in the home Region."
            ),
            evaluate=detection.root_config_rules,
        ),
    )
}


def framework_ids(control: Control) -> str:
    """Return the control's benchmark ids as one line, e.g. "CIS 1.5 (v1.4-v4.0), 1.4 (v5.0); IAM.9"."""
    cis = ", ".join(f"{item} ({versions})" for versions, item in control.cis.items())
    parts = [f"CIS {cis}"] if cis else []
    if control.security_hub:
        parts.append(f"Security Hub {control.security_hub}")
    if control.config_rule:
        parts.append(f"AWS Config {control.config_rule}")
    return "; ".join(parts)
