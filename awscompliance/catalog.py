"""The control catalog: what each control checks, why, and how to fix a failure.

Tests, the HTML report and findings.json all read control metadata from here, so a control's
title or framework ids are written once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from awscompliance.controls import root
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
    )
}


def framework_ids(control: Control) -> str:
    """Return the control's benchmark ids as one line, e.g. "CIS 1.5 (v1.4-v4.0), 1.4 (v5.0); IAM.9"."""
    cis = ", ".join(f"{item} ({versions})" for versions, item in control.cis.items())
    parts = [f"CIS {cis}"]
    if control.security_hub:
        parts.append(f"Security Hub {control.security_hub}")
    if control.config_rule:
        parts.append(f"AWS Config {control.config_rule}")
    return "; ".join(parts)
