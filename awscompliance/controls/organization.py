"""Controls that judge root in its organization: centralized root access and the SCPs that guard root.

They need the organization context that `--org` collects from the management account. Offline
reports without saved organization evidence, and accounts audited through profiles, are skipped
with the reason, because without the organization's view any verdict would be a guess.
"""

from __future__ import annotations

from typing import Any

from awscompliance import scp
from awscompliance.controls.root import api_credentials, mfa_fact, password_fact, root_row_or_verdict
from awscompliance.credential_report import CredentialRow
from awscompliance.evidence import AuditSettings, Evidence, Status, Verdict
from awscompliance.organization import (
    MANAGEMENT,
    MEMBER,
    ROOT_CREDENTIALS_MANAGEMENT,
    OrganizationContext,
)

ROOT_CREDENTIALS_CENTRALIZED = "root-credentials-centralized"
ROOT_MFA_ENFORCED = "root-mfa-enforced"
ROOT_IP_RESTRICTED = "root-ip-restricted"

_NO_ORGANIZATION_EVIDENCE = (
    "No organization evidence was collected for this account (offline reports hold none unless saved "
    "by --save-evidence from an --org run, and profiles are audited without organization access). "
    "Run with --org from the management account to evaluate it."
)


def root_credentials_centralized(evidence: Evidence, settings: AuditSettings) -> Verdict:
    """Pass when centralized root access is enabled and this member's root has no credentials."""
    control = ROOT_CREDENTIALS_CENTRALIZED
    row = root_row_or_verdict(control, evidence)
    if isinstance(row, Verdict):
        return row
    context = _member_context_or_verdict(control, evidence, management_reason=(
        "the management account's root user is never managed by centralized root access"
    ))
    if isinstance(context, Verdict):
        return context

    facts: dict[str, Any] = {"organization_role": context.role}
    if context.enabled_features is None:
        reason = context.features_error or "the organization evidence holds no ListOrganizationsFeatures result"
        return Verdict(control, Status.ERROR, f"Centralized root access could not be read: {reason}", facts)
    facts["enabled_features"] = sorted(context.enabled_features)
    if ROOT_CREDENTIALS_MANAGEMENT not in context.enabled_features:
        return Verdict(
            control,
            Status.FAIL,
            f"Centralized root access is not enabled: ListOrganizationsFeatures shows {_features(context)}, "
            f"without {ROOT_CREDENTIALS_MANAGEMENT}. Enable it in IAM from the management account, then "
            "delete the members' root credentials.",
            facts,
        )

    credentials, unknown = _root_credentials(evidence, row)
    facts |= {"root_credentials": credentials}
    if credentials:
        return Verdict(
            control,
            Status.FAIL,
            f"{ROOT_CREDENTIALS_MANAGEMENT} is enabled, but this member's root still has {', '.join(credentials)}. "
            f"Delete {'it' if len(credentials) == 1 else 'them'} from the management account (IAM, Root access "
            "management); enabling the feature does not delete existing credentials.",
            facts,
        )
    if unknown:
        return Verdict(
            control,
            Status.FAIL,
            f"{ROOT_CREDENTIALS_MANAGEMENT} is enabled, but whether root has a password cannot be told "
            f"({unknown}). Collect the account summary (iam:GetAccountSummary, AccountPasswordPresent) to show it.",
            facts,
        )
    return Verdict(
        control,
        Status.PASS,
        f"{ROOT_CREDENTIALS_MANAGEMENT} is enabled and this member's root has no password, access key or "
        "signing certificate.",
        facts,
    )


def root_mfa_enforced(evidence: Evidence, settings: AuditSettings) -> Verdict:
    """Pass when root cannot act without MFA: MFA on, no password, or (members) an SCP requires MFA."""
    control = ROOT_MFA_ENFORCED
    row = root_row_or_verdict(control, evidence)
    if isinstance(row, Verdict):
        return row

    mfa = mfa_fact(evidence, row)
    password = password_fact(evidence, row)
    keys = api_credentials(evidence, row)
    facts = mfa.facts | password.facts | {"api_credentials": keys}
    # Account MFA and a missing password protect sign-in only: access-key and certificate
    # requests carry no MFA, so with such a credential only an SCP can still require MFA.
    if not keys and mfa.value is True:
        return Verdict(control, Status.PASS, f"Root MFA is enabled at the account level ({mfa.shown}).", facts)
    if not keys and password.value is False:
        return Verdict(
            control, Status.PASS, f"Root has no password ({password.shown}), so root cannot sign in at all.", facts
        )
    gap = _mfa_gap(mfa, password, keys)

    context = evidence.organization
    if context is None or context.role not in (MANAGEMENT, MEMBER):
        return Verdict(control, Status.SKIP, f"{gap} {_NO_ORGANIZATION_EVIDENCE}", facts)
    facts["organization_role"] = context.role
    if context.role == MANAGEMENT:
        # SCPs never apply to the management account, so nothing else can require MFA of its root.
        return Verdict(
            control,
            Status.FAIL,
            f"{gap} SCPs never apply to the management account. {_mfa_remedy(keys)}",
            facts,
        )

    path = _scp_path_or_verdict(control, context, facts)
    if isinstance(path, Verdict):
        return path
    try:
        enforcement = scp.root_mfa_enforcement(path, row.arn)
    except scp.ScpEvaluationError as error:
        return Verdict(control, Status.ERROR, f"The SCPs cannot be evaluated: {error}", facts)

    facts["scp_mfa_enforcement"] = enforcement.status
    if enforcement.status == scp.ENFORCED:
        return Verdict(control, Status.PASS, f"{gap} However, {_lower_first(enforcement.message)}", facts)
    return Verdict(
        control,
        Status.FAIL,
        f"{gap} {enforcement.message} {_mfa_remedy(keys)} Or attach an SCP that denies root every action when "
        "aws:MultiFactorAuthPresent is false, using BoolIfExists.",
        facts,
    )


def _root_denied_entirely(path: tuple[scp.Level, ...], root_arn: str) -> str | None:
    """Return the message naming the SCPs that deny root everything, or None.

    An SCP the evaluator cannot read claims nothing here, since this only turns a FAIL into a PASS.
    """
    try:
        enforcement = scp.root_mfa_enforcement(path, root_arn)
    except scp.ScpEvaluationError:
        return None
    return enforcement.message if enforcement.root_denied_entirely else None


def _mfa_gap(mfa: Any, password: Any, keys: list[str]) -> str:
    """Describe how root can act without MFA, as the first sentence of a verdict."""
    if keys:
        verb = "makes" if len(keys) == 1 else "make"
        return (
            f"Root has {', '.join(keys)}, which {verb} requests without MFA whatever the account's MFA "
            f"setting ({mfa.shown})."
        )
    return f"Root has a password{_password_detail(password)} and no MFA ({mfa.shown})."


def _mfa_remedy(keys: list[str]) -> str:
    if keys:
        return "Delete root's access keys and signing certificates."
    return "Enable MFA for the root user."


def _lower_first(text: str) -> str:
    # "SCPs deny ..." keeps its capitals; only an ordinary first word is lowered.
    if text[1:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def root_ip_restricted(evidence: Evidence, settings: AuditSettings) -> Verdict:
    """Pass when the member's SCPs deny root from source IPs outside an allow list."""
    control = ROOT_IP_RESTRICTED
    row = root_row_or_verdict(control, evidence)
    if isinstance(row, Verdict):
        return row
    context = _member_context_or_verdict(
        control, evidence, management_reason="SCPs never apply to the management account"
    )
    if isinstance(context, Verdict):
        return context

    facts: dict[str, Any] = {"organization_role": context.role}
    path = _scp_path_or_verdict(control, context, facts)
    if isinstance(path, Verdict):
        return path
    try:
        restriction = scp.root_ip_restriction(path, row.arn)
    except scp.ScpEvaluationError as error:
        return Verdict(control, Status.ERROR, f"The SCPs cannot be evaluated: {error}", facts)

    facts["allowed_cidrs"] = list(restriction.cidrs)
    if restriction.restricted:
        return Verdict(control, Status.PASS, restriction.message, facts)
    denial = _root_denied_entirely(path, row.arn)
    if denial is not None:
        # A root that may do nothing from anywhere is restricted more than any allow list could.
        return Verdict(control, Status.PASS, f"No source IP matters: {_lower_first(denial)}", facts)
    return Verdict(
        control,
        Status.FAIL,
        f"{restriction.message} Attach an SCP that denies root requests with NotIpAddress aws:SourceIp "
        "outside your corporate ranges (and aws:ViaAWSService false).",
        facts,
    )


def _member_context_or_verdict(control: str, evidence: Evidence, management_reason: str) -> OrganizationContext | Verdict:
    context = evidence.organization
    if context is None or context.role not in (MANAGEMENT, MEMBER):
        return Verdict(control, Status.SKIP, _NO_ORGANIZATION_EVIDENCE)
    if context.role == MANAGEMENT:
        return Verdict(control, Status.SKIP, f"Not applicable: {management_reason}.", {"organization_role": context.role})
    return context


def _scp_path_or_verdict(control: str, context: OrganizationContext, facts: dict[str, Any]) -> tuple[scp.Level, ...] | Verdict:
    if context.scp_path is None:
        return Verdict(control, Status.ERROR, f"The account's SCPs could not be read: {context.scp_error}", facts)
    if not context.scp_path:
        # The path is empty when the SERVICE_CONTROL_POLICY type is not enabled on the root.
        return Verdict(
            control,
            Status.FAIL,
            "SCPs are not enabled in the organization (ListRoots shows no enabled SERVICE_CONTROL_POLICY "
            "type), so no SCP restricts root. Enable the SCP policy type and attach one.",
            facts,
        )
    facts["scp_path"] = [f"{level.target_type} {level.name} ({level.target_id})" for level in context.scp_path]
    return context.scp_path


def _root_credentials(evidence: Evidence, row: CredentialRow) -> tuple[list[str], str | None]:
    """Return root's remaining credentials, and why the password is unknown when it is."""
    credentials = []
    password = password_fact(evidence, row)
    if password.value is True:
        credentials.append(f"a password ({password.shown})")
    credentials += [f"access key {key.number}" for key in row.access_keys if key.exists]
    credentials += [f"signing certificate {cert.number}" for cert in row.certificates if cert.exists]
    summary = evidence.account_summary or {}
    if summary.get("AccountAccessKeysPresent") and not any(key.exists for key in row.access_keys):
        credentials.append("an access key (AccountAccessKeysPresent)")
    if summary.get("AccountSigningCertificatesPresent") and not any(cert.exists for cert in row.certificates):
        credentials.append("a signing certificate (AccountSigningCertificatesPresent)")
    unknown = password.shown if password.value is None else None
    return credentials, unknown


def _features(context: OrganizationContext) -> str:
    return ", ".join(sorted(context.enabled_features or ())) or "no enabled features"


def _password_detail(password: Any) -> str:
    return f" ({password.shown})" if password.value is True else f" or cannot be shown not to ({password.shown})"
