"""The organization controls end to end against moto: discovery reads the SCPs, controls judge them.

moto stores SCPs but does not enforce them, which is what these tests need: the suite reads the
policies and evaluates them itself. moto 5.2.1 lacks ListOrganizationsFeatures, which the demo's
adaptation of moto provides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import boto3
import pytest
from moto import mock_aws

from awscompliance.accounts import AccountTarget, default_target
from awscompliance.catalog import CONTROLS
from awscompliance.collect import CollectSettings, collect_all
from awscompliance.demo import moto_root
from awscompliance.evidence import AuditSettings, Evidence, Status
from awscompliance.organization import discover_organization
from unit_tests.test_organization import _member_client, always, install_faults

pytestmark = pytest.mark.usefixtures("aws_credentials")

SETTINGS = AuditSettings(as_of=datetime(2026, 6, 1, tzinfo=timezone.utc))
MFA_CODES = {"AuthenticationCode1": "123456", "AuthenticationCode2": "654321"}
CORPORATE_CIDRS = ["192.0.2.0/24", "2001:db8::/32"]

MFA_FOR_ROOT_IF_EXISTS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyRootWithoutMfa",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"},
                "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"},
            },
        }
    ],
}
MFA_FOR_ROOT_PLAIN_BOOL = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyRootConsoleWithoutMfa",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "Bool": {"aws:MultiFactorAuthPresent": "false"},
                "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"},
            },
        }
    ],
}
DENY_ROOT_EXCEPT_CENTRAL_SESSIONS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyRoot",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"},
                "Null": {"aws:AssumedRoot": "true"},
            },
        }
    ],
}
ROOT_IP_ALLOW_LIST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyRootOutsideCorporateNetwork",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "NotIpAddress": {"aws:SourceIp": CORPORATE_CIDRS},
                "Bool": {"aws:ViaAWSService": "false"},
                "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"},
            },
        }
    ],
}


@dataclass
class Organization:
    management_id: str
    # Account name -> account id.
    ids: dict[str, str] = field(default_factory=dict)
    adaptation: moto_root.RootAdaptation | None = None


@pytest.fixture
def organization() -> Iterator[Organization]:
    with mock_aws(), moto_root.root_user_adaptation() as adaptation:
        built = _build()
        built.adaptation = adaptation
        adaptation.organization_features = ["RootCredentialsManagement", "RootSessions"]
        yield built


def _build() -> Organization:
    organizations = boto3.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    root_id = organizations.list_roots()["Roots"][0]["Id"]
    # AWS applies SCPs only once their policy type is enabled on the root.
    organizations.enable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
    management_id = boto3.client("sts").get_caller_identity()["Account"]
    result = Organization(management_id=management_id)
    _seed_root(boto3.client("iam"), password=True, mfa=False)

    workloads = _unit(organizations, root_id, "Workloads")
    strict = _unit(organizations, workloads, "Strict")
    legacy = _unit(organizations, root_id, "Legacy")
    sealed = _unit(organizations, root_id, "Sealed")
    office = _unit(organizations, root_id, "Office")
    sibling = _unit(organizations, root_id, "Sibling")

    _attach(organizations, "MfaForRoot", MFA_FOR_ROOT_IF_EXISTS, workloads)
    _attach(organizations, "MfaForRootPlainBool", MFA_FOR_ROOT_PLAIN_BOOL, legacy)
    _attach(organizations, "DenyRoot", DENY_ROOT_EXCEPT_CENTRAL_SESSIONS, sealed)
    _attach(organizations, "RootFromOffice", ROOT_IP_ALLOW_LIST, office)
    # Attached only to a sibling OU, so it must not protect the accounts elsewhere.
    _attach(organizations, "SiblingMfaForRoot", MFA_FOR_ROOT_IF_EXISTS, sibling)
    # SCPs never apply to the management account, even one attached to it directly.
    _attach(organizations, "ManagementMfaForRoot", MFA_FOR_ROOT_IF_EXISTS, management_id)

    placements = {
        "strict-no-mfa": (strict, dict(password=True, mfa=False)),
        "legacy-no-mfa": (legacy, dict(password=True, mfa=False)),
        "sealed-no-mfa": (sealed, dict(password=True, mfa=False)),
        "office-with-mfa": (office, dict(password=True, mfa=True)),
        "plain-no-mfa": (root_id, dict(password=True, mfa=False)),
        "central-no-credentials": (root_id, dict(password=False, mfa=False)),
    }
    for name, (parent, root_seed) in placements.items():
        created = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        account_id = created["CreateAccountStatus"]["AccountId"]
        if parent != root_id:
            organizations.move_account(AccountId=account_id, SourceParentId=root_id, DestinationParentId=parent)
        result.ids[name] = account_id
        _seed_root(_member_iam(account_id), **root_seed)
    return result


def _unit(organizations, parent_id: str, name: str) -> str:
    return organizations.create_organizational_unit(ParentId=parent_id, Name=name)["OrganizationalUnit"]["Id"]


def _attach(organizations, name: str, document: dict, target_id: str) -> None:
    policy = organizations.create_policy(
        Name=name, Description=name, Type="SERVICE_CONTROL_POLICY", Content=json.dumps(document)
    )
    organizations.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=target_id)


def _member_iam(account_id: str):
    return _member_client(account_id, "iam")


def _seed_root(iam, password: bool, mfa: bool) -> None:
    iam.create_user(UserName="<root_account>")
    if password:
        iam.create_login_profile(UserName="<root_account>", Password="not-a-secret-1A!")
    if mfa:
        iam.enable_mfa_device(UserName="<root_account>", SerialNumber="GAHT00000001", **MFA_CODES)


def audit(targets: list[AccountTarget]) -> dict[str, Evidence]:
    settings = CollectSettings(detection=False)
    return {item.account_id: item for item in collect_all(targets, settings, workers=4)}


def verdicts(control_id: str, evidence: dict[str, Evidence]) -> dict[str, object]:
    return {account_id: CONTROLS[control_id].evaluate(item, SETTINGS) for account_id, item in evidence.items()}


@pytest.fixture
def evidence(organization) -> dict[str, Evidence]:
    return audit(discover_organization(default_target().session_factory))


def test_mfa_enforced_by_scp_with_bool_if_exists(organization, evidence):
    verdict = verdicts("root-mfa-enforced", evidence)[organization.ids["strict-no-mfa"]]

    assert verdict.status is Status.PASS, verdict.message
    assert "MfaForRoot" in verdict.message
    assert "Workloads" in verdict.message


def test_mfa_plain_bool_scp_not_enough(organization, evidence):
    verdict = verdicts("root-mfa-enforced", evidence)[organization.ids["legacy-no-mfa"]]

    assert verdict.status is Status.FAIL
    assert "Bool" in verdict.message
    assert "access-key" in verdict.message or "access key" in verdict.message


def test_deny_root_scp_exempting_assumed_root_enforces(organization, evidence):
    verdict = verdicts("root-mfa-enforced", evidence)[organization.ids["sealed-no-mfa"]]

    assert verdict.status is Status.PASS, verdict.message
    assert "entirely" in verdict.message


def test_sibling_ou_scp_does_not_apply(organization, evidence):
    verdict = verdicts("root-mfa-enforced", evidence)[organization.ids["plain-no-mfa"]]

    assert verdict.status is Status.FAIL
    assert "SiblingMfaForRoot" not in verdict.message


def test_management_scp_never_applies(organization, evidence):
    verdict = verdicts("root-mfa-enforced", evidence)[organization.management_id]

    assert verdict.status is Status.FAIL
    assert "management account" in verdict.message


def test_ip_allow_list_restricts_root(organization, evidence):
    results = verdicts("root-ip-restricted", evidence)
    office = results[organization.ids["office-with-mfa"]]
    elsewhere = results[organization.ids["strict-no-mfa"]]

    assert office.status is Status.PASS, office.message
    assert office.evidence["allowed_cidrs"] == CORPORATE_CIDRS
    assert elsewhere.status is Status.FAIL
    assert results[organization.management_id].status is Status.SKIP


def test_centralized_root_credentials_pass_and_fail(organization, evidence):
    results = verdicts("root-credentials-centralized", evidence)

    assert results[organization.ids["central-no-credentials"]].status is Status.PASS
    assert results[organization.ids["plain-no-mfa"]].status is Status.FAIL
    assert "password" in results[organization.ids["plain-no-mfa"]].message
    assert results[organization.management_id].status is Status.SKIP


def test_centralized_root_access_disabled_fails(organization):
    organization.adaptation.organization_features = []
    evidence = audit(discover_organization(default_target().session_factory))
    verdict = verdicts("root-credentials-centralized", evidence)[organization.ids["central-no-credentials"]]

    assert verdict.status is Status.FAIL
    assert "RootCredentialsManagement" in verdict.message


def test_centralized_root_access_denied_errors(organization):
    def management_session():
        session = default_target().session_factory()
        return install_faults(session, {"ListOrganizationsFeatures": always("AccessDenied", 403)})

    evidence = audit(discover_organization(management_session))
    verdict = verdicts("root-credentials-centralized", evidence)[organization.ids["central-no-credentials"]]

    assert verdict.status is Status.ERROR
    assert "iam:ListOrganizationsFeatures" in verdict.message


def test_denied_scp_read_is_error_not_guess(organization):
    targets = discover_organization(
        lambda: install_faults(default_target().session_factory(), {"ListPoliciesForTarget": always("AccessDenied", 403)})
    )
    evidence = audit(targets)
    verdict = verdicts("root-mfa-enforced", evidence)[organization.ids["strict-no-mfa"]]

    assert verdict.status is Status.ERROR
    assert "ListPoliciesForTarget" in verdict.message


def test_unsupported_condition_is_error(organization):
    organizations = boto3.client("organizations")
    unsupported = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {
                    "DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
                    "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"},
                },
            }
        ],
    }
    _attach(organizations, "TimeBound", unsupported, organization.ids["plain-no-mfa"])
    evidence = audit(discover_organization(default_target().session_factory))
    verdict = verdicts("root-mfa-enforced", evidence)[organization.ids["plain-no-mfa"]]

    assert verdict.status is Status.ERROR
    assert "DateGreaterThan" in verdict.message or "aws:CurrentTime" in verdict.message


def test_mfa_on_but_root_key_not_enforced(organization):
    iam = _member_iam(organization.ids["office-with-mfa"])
    iam.create_access_key(UserName="<root_account>")
    evidence = audit(discover_organization(default_target().session_factory))
    verdict = verdicts("root-mfa-enforced", evidence)[organization.ids["office-with-mfa"]]

    assert verdict.status is Status.FAIL
    assert "access key 1" in verdict.message


def test_root_denied_entirely_is_ip_restricted(organization, evidence):
    verdict = verdicts("root-ip-restricted", evidence)[organization.ids["sealed-no-mfa"]]

    assert verdict.status is Status.PASS
    assert "entirely" in verdict.message

