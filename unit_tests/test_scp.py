"""SCP evaluation along root > OUs > account paths, and the root MFA and IP probes built on it.

The policies are written as AWS documents them (FullAWSAccess, the root MFA and deny-root SCPs,
the IP allow list, the region deny list) so the tests exercise the shapes real organizations use.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from awscompliance.scp import (
    ACCOUNT,
    CONSOLE_ONLY,
    ENFORCED,
    NOT_ENFORCED,
    ORGANIZATIONAL_UNIT,
    PROBE_ACTIONS,
    ROOT,
    SYNTHETIC_ACTION,
    Decision,
    InvalidPath,
    InvalidPolicyDocument,
    InvalidRequest,
    Level,
    Policy,
    Request,
    ScpEvaluationError,
    UnsupportedPolicyElement,
    applies_to,
    evaluate,
    root_ip_restriction,
    root_mfa_enforcement,
)

ACCOUNT_ID = "111122223333"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT_ID}:root"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/Admin"
ROOT_ID = "r-ab12"
WORKLOADS_ID = "ou-ab12-11111111"
PROD_ID = "ou-ab12-22222222"
SANDBOX_ID = "ou-ab12-33333333"


def _policy(policy_id: str, name: str, *statements: dict[str, Any], single: bool = False) -> Policy:
    statement: Any = statements[0] if single else list(statements)
    return Policy(policy_id, name, {"Version": "2012-10-17", "Statement": statement})


FULL_ACCESS = _policy("p-FullAWSAccess", "FullAWSAccess", {"Effect": "Allow", "Action": "*", "Resource": "*"})

ROOT_MFA = _policy(
    "p-rootmfa01",
    "RequireRootMfa",
    {
        "Sid": "DenyRootWithoutMfa",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"},
            "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"},
        },
    },
)

ROOT_MFA_PLAIN_BOOL = _policy(
    "p-rootmfa02",
    "RequireRootMfaPlainBool",
    {
        "Sid": "DenyRootWithoutMfa",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "Bool": {"aws:MultiFactorAuthPresent": "false"},
            "StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"},
        },
    },
)

# Lets root set up its own MFA device without MFA, as AWS's "require MFA" examples do.
ROOT_MFA_WITH_SETUP_EXEMPTIONS = _policy(
    "p-rootmfa03",
    "RequireRootMfaExceptSetup",
    {
        "Sid": "DenyRootWithoutMfaExceptMfaSetup",
        "Effect": "Deny",
        "NotAction": [
            "iam:CreateVirtualMFADevice",
            "iam:EnableMFADevice",
            "iam:ListMFADevices",
            "iam:ResyncMFADevice",
            "sts:GetSessionToken",
        ],
        "Resource": "*",
        "Condition": {
            "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"},
            "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"},
        },
    },
)

# Names particular services only, so a service it leaves out stays open to root without MFA.
ROOT_MFA_SOME_SERVICES = _policy(
    "p-rootmfa04",
    "RequireRootMfaForIamAndS3",
    {
        "Sid": "DenyRootWithoutMfaIamS3",
        "Effect": "Deny",
        "Action": ["iam:*", "s3:*", "ec2:*", "organizations:*", "kms:*"],
        "Resource": "*",
        "Condition": {
            "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"},
            "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"},
        },
    },
)

# Scoped to roles, so it never matches the root user.
ROLE_MFA = _policy(
    "p-rolemfa01",
    "RequireRoleMfa",
    {
        "Sid": "DenyRolesWithoutMfa",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"},
            "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"},
        },
    },
)

# AWS's example that denies root in member accounts but leaves centralized root sessions
# (which carry aws:AssumedRoot) free.
DENY_ROOT = _policy(
    "p-denyroot1",
    "DenyRootUser",
    {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "ArnLike": {"aws:PrincipalArn": ["arn:aws:iam::*:root"]},
            "Null": {"aws:AssumedRoot": "true"},
        },
    },
)

# The Control Tower guardrail form: no exemption, StringLike on the principal ARN.
RESTRICT_ROOT_USER = _policy(
    "p-denyroot2",
    "RestrictRootUser",
    {
        "Sid": "GRRESTRICTROOTUSER",
        "Effect": "Deny",
        "Action": "*",
        "Resource": ["*"],
        "Condition": {"StringLike": {"aws:PrincipalArn": ["arn:aws:iam::*:root"]}},
    },
)

# AWS's IP allow list example, with Statement as a single object.
IP_ALLOW_LIST = _policy(
    "p-iplist001",
    "DenyOutsideCorporateIps",
    {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]},
            "Bool": {"aws:ViaAWSService": "false"},
        },
    },
    single=True,
)

IP_ALLOW_LIST_IF_EXISTS = _policy(
    "p-iplist002",
    "DenyOutsideCorporateIpsIfExists",
    {
        "Sid": "DenyOutsideCorporateIps",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "NotIpAddressIfExists": {"aws:SourceIp": ["198.51.100.0/24", "2001:db8:1234::/48"]},
            "BoolIfExists": {"aws:ViaAWSService": "false"},
        },
    },
)

# Covers every documentation range the probes would try first.
IP_ALLOW_LIST_DOC_RANGES = _policy(
    "p-iplist003",
    "DenyOutsideDocRanges",
    {
        "Sid": "DenyOutsideDocRanges",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "NotIpAddress": {
                "aws:SourceIp": ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"]
            },
        },
    },
)

IP_ALLOW_LIST_EVERY_IPV4 = _policy(
    "p-iplist004",
    "DenyOutsideAnyIpv4",
    {
        "Sid": "DenyOutsideAnyIpv4",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": ["0.0.0.0/0"]}},
    },
)

IP_ALLOW_LIST_ROLES_ONLY = _policy(
    "p-iplist005",
    "DenyRolesOutsideCorporateIps",
    {
        "Sid": "DenyRolesOutsideCorporateIps",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24"]},
            "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"},
        },
    },
)

# Same deny as the allow list, but without any aws:SourceIp condition: it denies every direct
# request, which is not an IP restriction.
DENY_DIRECT_CALLS = _policy(
    "p-viaaws001",
    "DenyUnlessViaAwsService",
    {
        "Sid": "DenyDirectCalls",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:ViaAWSService": "false"}},
    },
)

IP_BLOCK_LIST = _policy(
    "p-ipblock01",
    "DenyFromBlockedRange",
    {
        "Sid": "DenyBlockedRange",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"IpAddress": {"aws:SourceIp": ["198.51.100.0/24", "203.0.113.0/24"]}},
    },
)

# AWS's region deny example: StringNotEquals and ArnNotLike are outside the supported subset.
REGION_DENY = _policy(
    "p-region001",
    "DenyOutsideEu",
    {
        "Sid": "DenyAllOutsideEU",
        "Effect": "Deny",
        "NotAction": ["iam:*", "organizations:*", "route53:*", "sts:*", "support:*"],
        "Resource": "*",
        "Condition": {
            "StringNotEquals": {"aws:RequestedRegion": ["eu-central-1", "eu-west-1"]},
            "ArnNotLike": {"aws:PrincipalARN": ["arn:aws:iam::*:role/Role1AllowedToBypassThisSCP"]},
        },
    },
)

# An IP allow list that also names an unsupported key, so its outcome is unknown.
IP_ALLOW_LIST_WITH_REGION = _policy(
    "p-iplist006",
    "DenyOutsideIpsInUsEast1",
    {
        "Sid": "DenyOutsideIpsInUsEast1",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24"]},
            "StringEquals": {"aws:RequestedRegion": "us-east-1"},
        },
    },
)

# An allow list at an OU in place of FullAWSAccess: everything outside these services is denied.
ALLOW_COMPUTE_ONLY = _policy(
    "p-allowlst1",
    "AllowComputeAndStorage",
    {"Sid": "AllowComputeAndStorage", "Effect": "Allow", "Action": ["ec2:*", "s3:*", "iam:*"], "Resource": "*"},
)

DENY_LEAVE_ORG = _policy(
    "p-leaveorg1",
    "DenyLeaveOrganization",
    {"Sid": "DenyLeaveOrg", "Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"},
)

# Denies all of IAM except reading, through a NotAction exemption list.
DENY_IAM_WRITES = _policy(
    "p-iamread01",
    "DenyIamExceptRead",
    {
        "Sid": "DenyIamExceptRead",
        "Effect": "Deny",
        "NotAction": ["iam:Get*", "iam:List*", "ec2:*", "s3:*", "kms:*", "organizations:*", "sts:*"],
        "Resource": "*",
    },
)

DENY_BUCKET_DELETE = _policy(
    "p-bucket001",
    "ProtectAuditBucket",
    {
        "Sid": "ProtectAuditBucket",
        "Effect": "Deny",
        "Action": ["s3:DeleteObject", "s3:PutObject"],
        "Resource": "arn:aws:s3:::audit-logs/*",
    },
)

DENY_OUTSIDE_BUCKET = _policy(
    "p-bucket002",
    "DenyS3OutsideDataBucket",
    {"Sid": "DenyOutsideDataBucket", "Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::data/*"},
)


def _path(
    root: tuple[Policy, ...] = (FULL_ACCESS,),
    ous: tuple[OuSpec, ...] = (("Workloads", WORKLOADS_ID, (FULL_ACCESS,)),),
    account: tuple[Policy, ...] = (FULL_ACCESS,),
) -> list[Level]:
    """Build root > OUs > account, each level with the SCPs given (FullAWSAccess by default)."""
    levels = [Level(ROOT_ID, ROOT, "Root", root)]
    levels += [Level(ou_id, ORGANIZATIONAL_UNIT, name, policies) for name, ou_id, policies in ous]
    levels.append(Level(ACCOUNT_ID, ACCOUNT, "prod", account))
    return levels


OuSpec = tuple[str, str, tuple[Policy, ...]]


def _two_ous(workloads: tuple[Policy, ...], prod: tuple[Policy, ...]) -> tuple[OuSpec, ...]:
    return (("Workloads", WORKLOADS_ID, workloads), ("Prod", PROD_ID, prod))


def _ids(decision: Decision) -> tuple[tuple[str, str, str | None], ...]:
    return tuple((ref.level.target_id, ref.policy_id, ref.sid) for ref in decision.denied_by)


def _root_request(action: str, **context: str) -> Request:
    return Request(action, "*", {"aws:PrincipalArn": ROOT_ARN, **context})


# An organization: Root > Workloads > {Prod, Sandbox}. The account sits in Prod, and Sandbox carries
# denies that must not reach it.
ORG_OUS = {
    "Workloads": (WORKLOADS_ID, None, (FULL_ACCESS,)),
    "Prod": (PROD_ID, "Workloads", (FULL_ACCESS,)),
    "Sandbox": (SANDBOX_ID, "Workloads", (FULL_ACCESS, RESTRICT_ROOT_USER, IP_ALLOW_LIST)),
}


def _path_in_org(ou_name: str) -> list[Level]:
    """Walk ORG_OUS from an account's parent OU up to the root, as ListParents does."""
    chain = []
    name: str | None = ou_name
    while name is not None:
        ou_id, parent, policies = ORG_OUS[name]
        chain.append(Level(ou_id, ORGANIZATIONAL_UNIT, name, policies))
        name = parent
    root = Level(ROOT_ID, ROOT, "Root", (FULL_ACCESS,))
    account = Level(ACCOUNT_ID, ACCOUNT, "prod", (FULL_ACCESS,))
    return [root, *reversed(chain), account]


# --------------------------------------------------------------------------------------------
# evaluate: paths, levels, Allow and Deny
# --------------------------------------------------------------------------------------------

# (path, request, allowed, denying statements as (level id, policy id, Sid), levels missing an Allow)
PATH_CASES = [
    pytest.param(_path(), Request("iam:CreateUser"), True, (), (), id="full-access-only"),
    pytest.param(
        _path(ous=(("Workloads", WORKLOADS_ID, (ALLOW_COMPUTE_ONLY,)),)),
        Request("kms:Decrypt"),
        False,
        (),
        (WORKLOADS_ID,),
        id="allow-list-ou-omits-service",
    ),
    pytest.param(
        _path(ous=(("Workloads", WORKLOADS_ID, (ALLOW_COMPUTE_ONLY,)),)),
        Request("ec2:RunInstances"),
        True,
        (),
        (),
        id="allow-list-ou-names-service",
    ),
    pytest.param(_path(account=()), Request("s3:GetObject"), False, (), (ACCOUNT_ID,), id="level-without-scps"),
    pytest.param(
        _path(root=(), account=()),
        Request("s3:GetObject"),
        False,
        (),
        (ROOT_ID, ACCOUNT_ID),
        id="two-levels-without-scps",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_LEAVE_ORG)),
        Request("organizations:LeaveOrganization"),
        False,
        ((ROOT_ID, "p-leaveorg1", "DenyLeaveOrg"),),
        (),
        id="deny-at-root",
    ),
    pytest.param(
        _path(ous=(("Workloads", WORKLOADS_ID, (FULL_ACCESS, DENY_LEAVE_ORG)),)),
        Request("organizations:LeaveOrganization"),
        False,
        ((WORKLOADS_ID, "p-leaveorg1", "DenyLeaveOrg"),),
        (),
        id="deny-at-ou",
    ),
    pytest.param(
        _path(account=(FULL_ACCESS, DENY_LEAVE_ORG)),
        Request("organizations:LeaveOrganization"),
        False,
        ((ACCOUNT_ID, "p-leaveorg1", "DenyLeaveOrg"),),
        (),
        id="deny-at-account",
    ),
    pytest.param(
        _path(ous=_two_ous((FULL_ACCESS, DENY_LEAVE_ORG), (FULL_ACCESS,))),
        Request("organizations:LeaveOrganization"),
        False,
        ((WORKLOADS_ID, "p-leaveorg1", "DenyLeaveOrg"),),
        (),
        id="deny-two-ous-up",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_LEAVE_ORG), account=(FULL_ACCESS, DENY_LEAVE_ORG)),
        Request("organizations:LeaveOrganization"),
        False,
        ((ROOT_ID, "p-leaveorg1", "DenyLeaveOrg"), (ACCOUNT_ID, "p-leaveorg1", "DenyLeaveOrg")),
        (),
        id="deny-at-two-levels",
    ),
    pytest.param(
        _path(ous=(("Workloads", WORKLOADS_ID, (ALLOW_COMPUTE_ONLY, DENY_IAM_WRITES)),)),
        Request("iam:CreateUser"),
        False,
        ((WORKLOADS_ID, "p-iamread01", "DenyIamExceptRead"),),
        (),
        id="deny-and-allow-same-level",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_LEAVE_ORG)),
        Request("organizations:DescribeOrganization"),
        True,
        (),
        (),
        id="deny-other-action",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_IAM_WRITES)),
        Request("iam:ListUsers"),
        True,
        (),
        (),
        id="notaction-exempt",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_IAM_WRITES)),
        Request("iam:CreateUser"),
        False,
        ((ROOT_ID, "p-iamread01", "DenyIamExceptRead"),),
        (),
        id="notaction-not-exempt",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_IAM_WRITES)),
        Request("lambda:InvokeFunction"),
        False,
        ((ROOT_ID, "p-iamread01", "DenyIamExceptRead"),),
        (),
        id="notaction-other-service",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_BUCKET_DELETE)),
        Request("s3:DeleteObject", "arn:aws:s3:::audit-logs/2026/01/trail.json.gz"),
        False,
        ((ROOT_ID, "p-bucket001", "ProtectAuditBucket"),),
        (),
        id="resource-in-scope",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_BUCKET_DELETE)),
        Request("s3:DeleteObject", "arn:aws:s3:::other-bucket/key"),
        True,
        (),
        (),
        id="resource-out-of-scope",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_BUCKET_DELETE)),
        Request("s3:DeleteObject", "arn:aws:s3:::Audit-Logs/key"),
        True,
        (),
        (),
        id="resource-case-sensitive",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_BUCKET_DELETE)),
        Request("s3:DeleteObject"),
        True,
        (),
        (),
        id="resource-scoped-deny-misses-star",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_OUTSIDE_BUCKET)),
        Request("s3:GetObject", "arn:aws:s3:::data/report.csv"),
        True,
        (),
        (),
        id="notresource-exempt",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_OUTSIDE_BUCKET)),
        Request("s3:GetObject", "arn:aws:s3:::other/report.csv"),
        False,
        ((ROOT_ID, "p-bucket002", "DenyOutsideDataBucket"),),
        (),
        id="notresource-not-exempt",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, IP_ALLOW_LIST)),
        Request("ec2:RunInstances", "*", {"aws:SourceIp": "198.51.100.7", "aws:ViaAWSService": "false"}),
        False,
        ((ROOT_ID, "p-iplist001", None),),
        (),
        id="statement-single-object",
    ),
]


@pytest.mark.parametrize(("path", "request_", "allowed", "denied_by", "missing"), PATH_CASES)
def test_evaluate_path(path, request_, allowed, denied_by, missing):
    decision = evaluate(path, request_)

    assert decision.allowed is allowed
    assert _ids(decision) == denied_by
    assert tuple(level.target_id for level in decision.missing_allow) == missing


def test_evaluate_sibling_ou_not_applied():
    path = _path_in_org("Prod")
    decision = evaluate(path, _root_request("iam:CreateUser", **{"aws:SourceIp": "198.51.100.7"}))

    assert [level.target_id for level in path] == [ROOT_ID, WORKLOADS_ID, PROD_ID, ACCOUNT_ID]
    assert decision.allowed


def test_evaluate_sibling_ou_applies_inside():
    context = {"aws:SourceIp": "198.51.100.7", "aws:ViaAWSService": "false"}
    decision = evaluate(_path_in_org("Sandbox"), _root_request("iam:CreateUser", **context))

    assert not decision.allowed
    assert {ref.policy_id for ref in decision.denied_by} == {"p-denyroot2", "p-iplist001"}


# (Action pattern of an Allow, requested action, whether the Allow matches)
ACTION_CASES = [
    ("*", "iam:CreateUser", True),
    ("iam:*", "iam:CreateUser", True),
    ("iam:*", "iam:createuser", True),
    ("IAM:CreateUser", "iam:createUSER", True),
    ("iam:*", "s3:GetObject", False),
    ("s3:Get*", "s3:GetObject", True),
    ("s3:Get*", "s3:GetBucketPolicy", True),
    ("s3:Get*", "s3:PutObject", False),
    ("s3:Get?bject", "s3:GetObject", True),
    ("s3:Get?bject", "s3:GetOObject", False),
    ("ec2:*", "ec2messages:GetMessages", False),
    ("ec2*:*", "ec2messages:GetMessages", True),
    ("iam:CreateUser", "iam:CreateUserX", False),
]


@pytest.mark.parametrize(("pattern", "action", "matches"), ACTION_CASES)
def test_evaluate_action_pattern(pattern, action, matches):
    statement = {"Sid": "AllowPattern", "Effect": "Allow", "Action": pattern, "Resource": "*"}
    allow = _policy("p-allow0001", "AllowPattern", statement)
    path = _path(ous=(("Workloads", WORKLOADS_ID, (allow,)),))

    decision = evaluate(path, Request(action))

    assert decision.allowed is matches


# --------------------------------------------------------------------------------------------
# evaluate: condition operators
# --------------------------------------------------------------------------------------------

IPV4_RANGE = "192.0.2.0/24"
ROOT_WITHOUT_MFA = {
    "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"},
    "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"},
}
DENY_ALL = {"Effect": "Deny", "Action": "*", "Resource": "*"}
IPV6_RANGE = "2001:db8:1234::/48"

# (Condition block of a Deny, request context, whether the Deny matches)
CONDITION_CASES = [
    # Bool: present values compare case-insensitively, and an absent key does not match.
    pytest.param(
        {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
        {"aws:MultiFactorAuthPresent": "false"},
        True,
        id="bool-present-equal",
    ),
    pytest.param(
        {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
        {"aws:MultiFactorAuthPresent": "true"},
        False,
        id="bool-present-other",
    ),
    pytest.param(
        {"Bool": {"aws:MultiFactorAuthPresent": "FALSE"}},
        {"aws:MultiFactorAuthPresent": "False"},
        True,
        id="bool-case-insensitive",
    ),
    pytest.param(
        {"Bool": {"aws:MultiFactorAuthPresent": False}},
        {"aws:MultiFactorAuthPresent": "false"},
        True,
        id="bool-json-boolean",
    ),
    pytest.param({"Bool": {"aws:MultiFactorAuthPresent": "false"}}, {}, False, id="bool-absent"),
    pytest.param({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, {}, True, id="boolifexists-absent"),
    pytest.param(
        {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        {"aws:MultiFactorAuthPresent": "false"},
        True,
        id="boolifexists-present-equal",
    ),
    pytest.param(
        {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        {"aws:MultiFactorAuthPresent": "true"},
        False,
        id="boolifexists-present-other",
    ),
    # StringEquals: exact and case-sensitive.
    pytest.param(
        {"StringEquals": {"aws:PrincipalArn": ROOT_ARN}},
        {"aws:PrincipalArn": ROOT_ARN},
        True,
        id="stringequals-equal",
    ),
    pytest.param(
        {"StringEquals": {"aws:PrincipalArn": ROOT_ARN.upper()}},
        {"aws:PrincipalArn": ROOT_ARN},
        False,
        id="stringequals-case-sensitive",
    ),
    pytest.param(
        {"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        {"aws:PrincipalArn": ROOT_ARN},
        False,
        id="stringequals-no-wildcards",
    ),
    pytest.param({"StringEquals": {"aws:PrincipalArn": ROOT_ARN}}, {}, False, id="stringequals-absent"),
    pytest.param({"StringEqualsIfExists": {"aws:PrincipalArn": ROOT_ARN}}, {}, True, id="stringequalsifexists-absent"),
    pytest.param(
        {"StringEqualsIfExists": {"aws:PrincipalArn": ROOT_ARN}},
        {"aws:PrincipalArn": ROLE_ARN},
        False,
        id="stringequalsifexists-present-other",
    ),
    pytest.param(
        {"StringEquals": {"aws:ViaAWSService": "false"}},
        {"aws:ViaAWSService": "false"},
        True,
        id="stringequals-boolean-key",
    ),
    # StringLike: * and ?, case-sensitive.
    pytest.param(
        {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        {"aws:PrincipalArn": ROOT_ARN},
        True,
        id="stringlike-star",
    ),
    pytest.param(
        {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        {"aws:PrincipalArn": ROLE_ARN},
        False,
        id="stringlike-other",
    ),
    pytest.param(
        {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::11112222333?:root"}},
        {"aws:PrincipalArn": ROOT_ARN},
        True,
        id="stringlike-question-mark",
    ),
    pytest.param(
        {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:ROOT"}},
        {"aws:PrincipalArn": ROOT_ARN},
        False,
        id="stringlike-case-sensitive",
    ),
    pytest.param({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}, {}, False, id="stringlike-absent"),
    pytest.param(
        {"StringLikeIfExists": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        {},
        True,
        id="stringlikeifexists-absent",
    ),
    pytest.param(
        {"StringLikeIfExists": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        {"aws:PrincipalArn": ROLE_ARN},
        False,
        id="stringlikeifexists-present-other",
    ),
    # ArnLike / ArnEquals: six parts compared one by one, case-sensitive, wildcards in both.
    pytest.param(
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        {"aws:PrincipalArn": ROOT_ARN},
        True,
        id="arnlike-root",
    ),
    pytest.param(
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        {"aws:PrincipalArn": ROLE_ARN},
        False,
        id="arnlike-role",
    ),
    pytest.param(
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT_ID}:x:root"},
        False,
        id="arnlike-star-stays-in-part",
    ),
    pytest.param(
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}},
        {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT_ID}:role/a:b"},
        True,
        id="arnlike-resource-keeps-colons",
    ),
    pytest.param(
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:ROOT"}},
        {"aws:PrincipalArn": ROOT_ARN},
        False,
        id="arnlike-case-sensitive",
    ),
    pytest.param(
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        {"aws:PrincipalArn": "not-an-arn"},
        False,
        id="arnlike-value-not-arn",
    ),
    pytest.param({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}, {}, False, id="arnlike-absent"),
    pytest.param(
        {"ArnLikeIfExists": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        {},
        True,
        id="arnlikeifexists-absent",
    ),
    pytest.param(
        {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        {"aws:PrincipalArn": ROOT_ARN},
        True,
        id="arnequals-wildcard",
    ),
    pytest.param({"ArnEquals": {"aws:PrincipalArn": ROOT_ARN}}, {}, False, id="arnequals-absent"),
    pytest.param({"ArnEqualsIfExists": {"aws:PrincipalArn": ROOT_ARN}}, {}, True, id="arnequalsifexists-absent"),
    pytest.param(
        {"ArnEqualsIfExists": {"aws:PrincipalArn": ROOT_ARN}},
        {"aws:PrincipalArn": ROLE_ARN},
        False,
        id="arnequalsifexists-present-other",
    ),
    # IpAddress: CIDR membership, IPv4 and IPv6. An absent key does not match.
    pytest.param(
        {"IpAddress": {"aws:SourceIp": IPV4_RANGE}},
        {"aws:SourceIp": "192.0.2.44"},
        True,
        id="ipaddress-v4-inside",
    ),
    pytest.param(
        {"IpAddress": {"aws:SourceIp": IPV4_RANGE}},
        {"aws:SourceIp": "192.0.3.1"},
        False,
        id="ipaddress-v4-outside",
    ),
    pytest.param(
        {"IpAddress": {"aws:SourceIp": IPV6_RANGE}},
        {"aws:SourceIp": "2001:db8:1234:5::1"},
        True,
        id="ipaddress-v6-inside",
    ),
    pytest.param(
        {"IpAddress": {"aws:SourceIp": IPV6_RANGE}},
        {"aws:SourceIp": "2001:db8:1235::1"},
        False,
        id="ipaddress-v6-outside",
    ),
    pytest.param(
        {"IpAddress": {"aws:SourceIp": IPV4_RANGE}},
        {"aws:SourceIp": "2001:db8:1234::1"},
        False,
        id="ipaddress-other-family",
    ),
    pytest.param(
        {"IpAddress": {"aws:SourceIp": "192.0.2.44"}},
        {"aws:SourceIp": "192.0.2.44"},
        True,
        id="ipaddress-bare-address",
    ),
    pytest.param(
        {"IpAddress": {"aws:SourceIp": "192.0.2.44"}},
        {"aws:SourceIp": "192.0.2.45"},
        False,
        id="ipaddress-bare-address-other",
    ),
    pytest.param({"IpAddress": {"aws:SourceIp": IPV4_RANGE}}, {}, False, id="ipaddress-absent"),
    pytest.param({"IpAddressIfExists": {"aws:SourceIp": IPV4_RANGE}}, {}, True, id="ipaddressifexists-absent"),
    pytest.param(
        {"IpAddressIfExists": {"aws:SourceIp": IPV4_RANGE}},
        {"aws:SourceIp": "192.0.3.1"},
        False,
        id="ipaddressifexists-present-outside",
    ),
    # NotIpAddress: true outside every range, and true for an absent key (negated operator).
    pytest.param(
        {"NotIpAddress": {"aws:SourceIp": IPV4_RANGE}},
        {"aws:SourceIp": "192.0.3.1"},
        True,
        id="notipaddress-v4-outside",
    ),
    pytest.param(
        {"NotIpAddress": {"aws:SourceIp": IPV4_RANGE}},
        {"aws:SourceIp": "192.0.2.44"},
        False,
        id="notipaddress-v4-inside",
    ),
    pytest.param(
        {"NotIpAddress": {"aws:SourceIp": IPV6_RANGE}},
        {"aws:SourceIp": "2001:db8:1234::9"},
        False,
        id="notipaddress-v6-inside",
    ),
    pytest.param(
        {"NotIpAddress": {"aws:SourceIp": IPV6_RANGE}},
        {"aws:SourceIp": "2001:db8:9999::9"},
        True,
        id="notipaddress-v6-outside",
    ),
    pytest.param(
        {"NotIpAddress": {"aws:SourceIp": IPV4_RANGE}},
        {"aws:SourceIp": "2001:db8:1234::9"},
        True,
        id="notipaddress-other-family",
    ),
    pytest.param({"NotIpAddress": {"aws:SourceIp": IPV4_RANGE}}, {}, True, id="notipaddress-absent"),
    pytest.param({"NotIpAddressIfExists": {"aws:SourceIp": IPV4_RANGE}}, {}, True, id="notipaddressifexists-absent"),
    pytest.param(
        {"NotIpAddressIfExists": {"aws:SourceIp": IPV4_RANGE}},
        {"aws:SourceIp": "192.0.2.1"},
        False,
        id="notipaddressifexists-present-inside",
    ),
    # Null: true matches an absent key, false a present one.
    pytest.param({"Null": {"aws:AssumedRoot": "true"}}, {}, True, id="null-true-absent"),
    pytest.param({"Null": {"aws:AssumedRoot": "true"}}, {"aws:AssumedRoot": "true"}, False, id="null-true-present"),
    pytest.param({"Null": {"aws:AssumedRoot": "false"}}, {"aws:AssumedRoot": "true"}, True, id="null-false-present"),
    pytest.param({"Null": {"aws:AssumedRoot": "false"}}, {}, False, id="null-false-absent"),
    pytest.param({"Null": {"aws:AssumedRoot": True}}, {}, True, id="null-json-boolean"),
    # Several values for one key are ORed, but NotIpAddress needs the address outside all of them.
    pytest.param(
        {"StringLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/*", "arn:aws:iam::*:root"]}},
        {"aws:PrincipalArn": ROOT_ARN},
        True,
        id="values-or-second",
    ),
    pytest.param(
        {"IpAddress": {"aws:SourceIp": [IPV4_RANGE, IPV6_RANGE]}},
        {"aws:SourceIp": "2001:db8:1234::1"},
        True,
        id="values-or-ip-families",
    ),
    pytest.param(
        {"NotIpAddress": {"aws:SourceIp": [IPV4_RANGE, "198.51.100.0/24"]}},
        {"aws:SourceIp": "198.51.100.9"},
        False,
        id="values-nor-inside-second",
    ),
    pytest.param(
        {"NotIpAddress": {"aws:SourceIp": [IPV4_RANGE, "198.51.100.0/24"]}},
        {"aws:SourceIp": "203.0.113.9"},
        True,
        id="values-nor-outside-all",
    ),
    # Several keys under one operator, and several operators, are ANDed.
    pytest.param(
        {"Bool": {"aws:MultiFactorAuthPresent": "false", "aws:ViaAWSService": "false"}},
        {"aws:MultiFactorAuthPresent": "false", "aws:ViaAWSService": "false"},
        True,
        id="keys-and-both",
    ),
    pytest.param(
        {"Bool": {"aws:MultiFactorAuthPresent": "false", "aws:ViaAWSService": "false"}},
        {"aws:MultiFactorAuthPresent": "false", "aws:ViaAWSService": "true"},
        False,
        id="keys-and-one",
    ),
    pytest.param(
        ROOT_WITHOUT_MFA,
        {"aws:PrincipalArn": ROOT_ARN},
        True,
        id="operators-and-both",
    ),
    pytest.param(
        ROOT_WITHOUT_MFA,
        {"aws:PrincipalArn": ROLE_ARN},
        False,
        id="operators-and-one",
    ),
    # Condition keys are case-insensitive, in the policy and in the request.
    pytest.param(
        {"IpAddress": {"AWS:SOURCEIP": IPV4_RANGE}},
        {"aws:SourceIp": "192.0.2.1"},
        True,
        id="key-case-policy",
    ),
    pytest.param(
        {"IpAddress": {"aws:SourceIp": IPV4_RANGE}},
        {"Aws:sourceIP": "192.0.2.1"},
        True,
        id="key-case-request",
    ),
]


@pytest.mark.parametrize(("condition", "context", "matches"), CONDITION_CASES)
def test_evaluate_condition(condition, context, matches):
    deny = _policy(
        "p-cond00001",
        "ConditionUnderTest",
        {"Sid": "DenyIfCondition", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": condition},
    )

    decision = evaluate(_path(root=(FULL_ACCESS, deny)), Request("s3:GetObject", "*", context))

    assert decision.allowed is not matches
    assert _ids(decision) == (((ROOT_ID, "p-cond00001", "DenyIfCondition"),) if matches else ())


def test_evaluate_condition_on_allow():
    allow = _policy(
        "p-allowip01",
        "AllowFromOffice",
        {
            "Sid": "AllowFromOffice",
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": IPV4_RANGE}},
        },
    )
    path = _path(ous=(("Workloads", WORKLOADS_ID, (allow,)),))

    inside = evaluate(path, Request("s3:GetObject", "*", {"aws:SourceIp": "192.0.2.8"}))
    outside = evaluate(path, Request("s3:GetObject", "*", {"aws:SourceIp": "198.51.100.8"}))

    assert inside.allowed
    assert not outside.allowed
    assert [level.target_id for level in outside.missing_allow] == [WORKLOADS_ID]


# --------------------------------------------------------------------------------------------
# evaluate: unsupported elements
# --------------------------------------------------------------------------------------------

# (Condition block of a Deny, text the error must name)
UNSUPPORTED_CASES = [
    pytest.param(
        {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}},
        '"DateGreaterThan"',
        id="operator-date",
    ),
    pytest.param(
        {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}},
        '"StringNotEquals"',
        id="operator-negated-string",
    ),
    pytest.param(
        {"ForAnyValue:StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        '"ForAnyValue:StringLike"',
        id="operator-set",
    ),
    pytest.param({"bool": {"aws:MultiFactorAuthPresent": "false"}}, '"bool"', id="operator-misspelled-case"),
    pytest.param({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, '"aws:RequestedRegion"', id="key-region"),
    pytest.param({"StringEquals": {"aws:PrincipalOrgID": "o-exampleorgid"}}, '"aws:PrincipalOrgID"', id="key-org-id"),
    pytest.param(
        {"IpAddress": {"aws:PrincipalArn": "192.0.2.0/24"}},
        '"IpAddress" on key "aws:PrincipalArn"',
        id="operator-wrong-key-type",
    ),
    pytest.param({"Bool": {"aws:SourceIp": "true"}}, '"Bool" on key "aws:SourceIp"', id="bool-on-ip-key"),
    pytest.param(
        {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:root"}},
        "policy variable",
        id="policy-variable",
    ),
    pytest.param({"ArnLike": {"aws:PrincipalArn": "*"}}, "ARN pattern", id="arn-pattern-short"),
]


@pytest.mark.parametrize(("condition", "named"), UNSUPPORTED_CASES)
def test_evaluate_unsupported_raises(condition, named):
    deny = _policy(
        "p-unsup0001",
        "UsesUnsupported",
        {"Sid": "DenyUnsupported", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": condition},
    )
    path = _path(ous=(("Workloads", WORKLOADS_ID, (FULL_ACCESS, deny)),))

    with pytest.raises(UnsupportedPolicyElement) as raised:
        evaluate(path, _root_request("s3:GetObject", **{"aws:SourceIp": "198.51.100.7"}))

    message = str(raised.value)
    assert named in message
    assert '"UsesUnsupported"' in message
    assert "p-unsup0001" in message
    assert f'OU "Workloads" ({WORKLOADS_ID})' in message
    assert raised.value.policy_id == "p-unsup0001"
    assert raised.value.level.target_id == WORKLOADS_ID


def test_evaluate_unsupported_statement_element():
    deny = _policy(
        "p-unsup0002",
        "HasPrincipal",
        {"Sid": "DenyWithPrincipal", "Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"},
    )

    with pytest.raises(UnsupportedPolicyElement) as raised:
        evaluate(_path(root=(FULL_ACCESS, deny)), Request("s3:GetObject"))

    assert '"Principal"' in str(raised.value)
    assert raised.value.policy_name == "HasPrincipal"


def test_evaluate_unsupported_other_action_ignored():
    # The region deny exempts iam:*, so its unsupported conditions cannot matter for IAM.
    decision = evaluate(_path(root=(FULL_ACCESS, REGION_DENY)), Request("iam:CreateUser"))

    assert decision.allowed
    assert decision.unevaluated == ()


def test_evaluate_unsupported_after_certain_deny():
    path = _path(root=(FULL_ACCESS, REGION_DENY, RESTRICT_ROOT_USER))

    decision = evaluate(path, _root_request("s3:GetObject"))

    assert not decision.allowed
    assert [ref.policy_id for ref in decision.denied_by] == ["p-denyroot2"]
    assert [ref.policy_id for ref in decision.unevaluated] == ["p-region001"]
    assert "Not evaluated" in decision.describe()


def test_evaluate_unsupported_allow_beside_supported():
    allow_eu = _policy(
        "p-alloweu01",
        "AllowInEu",
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
        },
    )

    allowed = evaluate(_path(ous=(("Workloads", WORKLOADS_ID, (FULL_ACCESS, allow_eu)),)), Request("s3:GetObject"))

    assert allowed.allowed
    with pytest.raises(UnsupportedPolicyElement, match="aws:RequestedRegion"):
        evaluate(_path(ous=(("Workloads", WORKLOADS_ID, (allow_eu,)),)), Request("s3:GetObject"))


def test_evaluate_unsupported_false_condition_decides():
    # One supported condition is false, so the statement cannot match whatever the other evaluates to.
    deny = _policy(
        "p-unsup0003",
        "RolesOutsideEu",
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {"aws:RequestedRegion": "eu-west-1"},
                "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"},
            },
        },
    )

    decision = evaluate(_path(root=(FULL_ACCESS, deny)), _root_request("s3:GetObject"))

    assert decision.allowed


# --------------------------------------------------------------------------------------------
# evaluate: malformed input
# --------------------------------------------------------------------------------------------

# (statement, text the error must contain)
INVALID_STATEMENT_CASES = [
    pytest.param({"Effect": "Block", "Action": "*", "Resource": "*"}, "Effect", id="effect"),
    pytest.param(
        {"Effect": "Deny", "Action": "*", "NotAction": "s3:*", "Resource": "*"},
        "exactly one of Action and NotAction",
        id="action-and-notaction",
    ),
    pytest.param({"Effect": "Deny", "Resource": "*"}, "exactly one of Action and NotAction", id="no-action"),
    pytest.param({"Effect": "Deny", "Action": "*"}, "exactly one of Resource and NotResource", id="no-resource"),
    pytest.param({"Effect": "Deny", "Action": [], "Resource": "*"}, "non-empty list", id="empty-action"),
    pytest.param(
        {**DENY_ALL, "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.300/24"}}},
        "not an IP address",
        id="bad-cidr",
    ),
    pytest.param(
        {**DENY_ALL, "Condition": {"Bool": {"aws:ViaAWSService": "yes"}}},
        "true or false",
        id="bool-value",
    ),
    pytest.param(
        {**DENY_ALL, "Condition": {"Null": {"aws:AssumedRoot": 1}}},
        "strings or booleans",
        id="null-value",
    ),
    pytest.param(
        {**DENY_ALL, "Condition": {"Bool": {"aws:ViaAWSService": []}}},
        "empty value list",
        id="empty-values",
    ),
    pytest.param(
        {**DENY_ALL, "Condition": ["Bool"]},
        "Condition",
        id="condition-list",
    ),
]


@pytest.mark.parametrize(("statement", "named"), INVALID_STATEMENT_CASES)
def test_evaluate_invalid_statement(statement, named):
    broken = _policy("p-broken001", "Broken", statement)

    with pytest.raises(InvalidPolicyDocument) as raised:
        evaluate(_path(root=(FULL_ACCESS, broken)), Request("s3:GetObject"))

    assert named in str(raised.value)
    assert '"Broken" (p-broken001)' in str(raised.value)


def test_evaluate_invalid_document():
    no_statement = Policy("p-broken002", "NoStatement", {"Version": "2012-10-17"})
    as_text = Policy("p-broken003", "AsText", '{"Statement": []}')  # type: ignore[arg-type]

    with pytest.raises(InvalidPolicyDocument, match="no Statement"):
        evaluate(_path(root=(FULL_ACCESS, no_statement)), Request("s3:GetObject"))
    with pytest.raises(InvalidPolicyDocument, match="from_content"):
        evaluate(_path(root=(FULL_ACCESS, as_text)), Request("s3:GetObject"))


def test_policy_from_content():
    content = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
    policy = Policy.from_content("p-FullAWSAccess", "FullAWSAccess", content)

    assert policy == FULL_ACCESS
    with pytest.raises(InvalidPolicyDocument, match="not valid JSON"):
        Policy.from_content("p-broken004", "Truncated", '{"Statement": [')


# (levels as (target type, id), text the error must contain)
INVALID_PATH_CASES = [
    pytest.param([(ACCOUNT, ACCOUNT_ID)], "needs the organization root", id="one-level"),
    pytest.param(
        [(ACCOUNT, ACCOUNT_ID), (ORGANIZATIONAL_UNIT, WORKLOADS_ID), (ROOT, ROOT_ID)],
        "ACCOUNT > ORGANIZATIONAL_UNIT > ROOT",
        id="reversed",
    ),
    pytest.param([(ROOT, ROOT_ID), (ORGANIZATIONAL_UNIT, WORKLOADS_ID)], "ROOT > ORGANIZATIONAL_UNIT", id="no-account"),
]


@pytest.mark.parametrize(("levels", "named"), INVALID_PATH_CASES)
def test_evaluate_invalid_path(levels, named):
    path = [Level(target_id, target_type, target_id, (FULL_ACCESS,)) for target_type, target_id in levels]

    with pytest.raises(InvalidPath, match=named):
        evaluate(path, Request("s3:GetObject"))


def test_evaluate_empty_path_allows():
    # An empty path stands for an organization root without the SCP policy type enabled.
    decision = evaluate([], _root_request("iam:CreateUser"))

    assert decision.allowed
    assert decision.denied_by == ()


@pytest.mark.parametrize(
    "error", [InvalidPolicyDocument, InvalidPath, InvalidRequest, UnsupportedPolicyElement]
)
def test_errors_share_base_class(error):
    assert issubclass(error, ScpEvaluationError)
    assert issubclass(error, ValueError)


def test_level_invalid_type():
    with pytest.raises(InvalidPath, match="POLICY_TARGET"):
        Level("r-ab12", "POLICY_TARGET", "Root", (FULL_ACCESS,))


def test_level_policies_become_tuple():
    level = Level(ROOT_ID, ROOT, "Root", [FULL_ACCESS])  # type: ignore[arg-type]

    assert level.policies == (FULL_ACCESS,)


# (Request arguments, text the error must contain)
INVALID_REQUEST_CASES = [
    pytest.param({"action": "CreateUser"}, "service:ActionName", id="action-without-service"),
    pytest.param(
        {"action": "s3:GetObject", "context": {"aws:SourceIp": "not-an-ip"}},
        "not an IP address",
        id="source-ip",
    ),
    pytest.param(
        {"action": "s3:GetObject", "context": {"aws:SourceIp": ["192.0.2.1", "192.0.2.2"]}},
        "single-valued",
        id="multi-valued",
    ),
    pytest.param({"action": "s3:GetObject", "context": {"aws:ViaAWSService": False}}, "string", id="non-string-value"),
]


@pytest.mark.parametrize(("arguments", "named"), INVALID_REQUEST_CASES)
def test_request_invalid(arguments, named):
    with pytest.raises(InvalidRequest, match=named):
        Request(**arguments)


def test_request_value_of():
    request = Request("s3:GetObject", "*", {"AWS:SourceIp": "192.0.2.1", "aws:PrincipalTag/team": ["a", "b"]})

    assert request.value_of("aws:sourceip") == ("192.0.2.1",)
    assert request.value_of("aws:principaltag/team") == ("a", "b")
    assert request.value_of("aws:MultiFactorAuthPresent") is None


# --------------------------------------------------------------------------------------------
# Decision.describe
# --------------------------------------------------------------------------------------------


def test_decision_describe_deny():
    path = _path(ous=_two_ous((ALLOW_COMPUTE_ONLY,), (FULL_ACCESS, DENY_LEAVE_ORG)))

    text = evaluate(path, Request("organizations:LeaveOrganization")).describe()

    assert text.startswith("SCPs deny organizations:LeaveOrganization on *")
    statement = 'statement "DenyLeaveOrg" of SCP "DenyLeaveOrganization" (p-leaveorg1)'
    assert f'{statement} attached to OU "Prod" ({PROD_ID})' in text
    assert f'no Allow at OU "Workloads" ({WORKLOADS_ID})' in text


def test_decision_describe_unnamed_statement():
    text = evaluate(_path(root=(FULL_ACCESS, DENY_ROOT)), _root_request("s3:GetObject")).describe()

    statement = 'statement #1 of SCP "DenyRootUser" (p-denyroot1)'
    assert f'{statement} attached to the organization root "Root" ({ROOT_ID})' in text


def test_decision_describe_allow():
    text = evaluate(_path(), Request("s3:GetObject")).describe()

    assert text.startswith("SCPs allow s3:GetObject on *")


# --------------------------------------------------------------------------------------------
# root_mfa_enforcement
# --------------------------------------------------------------------------------------------

# (path, status, root denied entirely, denying policy ids, texts the message must contain)
MFA_CASES = [
    pytest.param(_path(), NOT_ENFORCED, False, (), ("No SCP on the path", "any action that no SCP names"), id="full-access-only"),
    pytest.param(
        _path(root=(FULL_ACCESS, ROOT_MFA)),
        ENFORCED,
        False,
        ("p-rootmfa01",),
        ("without MFA", "access keys alike", '"DenyRootWithoutMfa"'),
        id="boolifexists",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, ROOT_MFA_PLAIN_BOOL)),
        CONSOLE_ONLY,
        False,
        ("p-rootmfa02",),
        ("aws:MultiFactorAuthPresent=false", "access keys", "plain Bool", "BoolIfExists"),
        id="plain-bool",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, ROOT_MFA_WITH_SETUP_EXEMPTIONS)),
        ENFORCED,
        False,
        ("p-rootmfa03",),
        ('"DenyRootWithoutMfaExceptMfaSetup"',),
        id="notaction-mfa-setup",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, ROOT_MFA_SOME_SERVICES)),
        NOT_ENFORCED,
        False,
        ("p-rootmfa04",),
        ("any action that no SCP names", "deny some probes"),
        id="named-services-only",
    ),
    pytest.param(_path(root=(FULL_ACCESS, ROLE_MFA)), NOT_ENFORCED, False, (), ("iam:CreateUser",), id="roles-only"),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_ROOT)),
        ENFORCED,
        True,
        ("p-denyroot1",),
        ("denied entirely", "cannot act at all", "even with MFA"),
        id="deny-root-assumedroot-exempt",
    ),
    pytest.param(
        _path(ous=(("Workloads", WORKLOADS_ID, (FULL_ACCESS, RESTRICT_ROOT_USER)),)),
        ENFORCED,
        True,
        ("p-denyroot2",),
        ("denied entirely", '"GRRESTRICTROOTUSER"'),
        id="deny-root-guardrail",
    ),
    pytest.param(
        _path(ous=_two_ous((FULL_ACCESS, ROOT_MFA), (FULL_ACCESS,))),
        ENFORCED,
        False,
        ("p-rootmfa01",),
        (f'OU "Workloads" ({WORKLOADS_ID})',),
        id="two-ous-up",
    ),
    pytest.param(_path_in_org("Prod"), NOT_ENFORCED, False, (), ("iam:CreateUser",), id="sibling-ou-only"),
    pytest.param(
        _path_in_org("Sandbox"),
        ENFORCED,
        True,
        ("p-denyroot2", "p-iplist001"),
        ("denied entirely",),
        id="in-sibling-ou",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, IP_ALLOW_LIST)),
        NOT_ENFORCED,
        False,
        ("p-iplist001",),
        ("iam:CreateUser",),
        id="ip-allow-list-only",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, IP_ALLOW_LIST, ROOT_MFA)),
        ENFORCED,
        False,
        ("p-iplist001", "p-rootmfa01"),
        (),
        id="ip-allow-list-and-mfa",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, IP_BLOCK_LIST)),
        NOT_ENFORCED,
        False,
        (),
        ("iam:CreateUser",),
        id="ip-block-list",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, REGION_DENY, ROOT_MFA)),
        ENFORCED,
        False,
        ("p-rootmfa01",),
        (),
        id="region-deny-and-mfa",
    ),
    pytest.param(
        # A missing Allow for the probes proves nothing about what the path's Allows let through,
        # so only explicit Denies count as enforcement.
        _path(account=()),
        NOT_ENFORCED,
        False,
        (),
        ("No SCP on the path",),
        id="level-without-scps",
    ),
]


@pytest.mark.parametrize(("path", "status", "entirely", "policy_ids", "texts"), MFA_CASES)
def test_mfa_enforcement(path, status, entirely, policy_ids, texts):
    result = root_mfa_enforcement(path, ROOT_ARN)

    assert result.status == status
    assert result.root_denied_entirely is entirely
    assert tuple(sorted(ref.policy_id for ref in result.denying_statements)) == policy_ids
    for text in texts:
        assert text in result.message
    assert ROOT_ARN in result.message


def test_mfa_console_only_lists_open_actions():
    result = root_mfa_enforcement(_path(root=(FULL_ACCESS, ROOT_MFA_PLAIN_BOOL)), ROOT_ARN)

    assert len(result.allowed_without_mfa) == len(PROBE_ACTIONS)
    assert all("aws:MultiFactorAuthPresent absent" in entry for entry in result.allowed_without_mfa)


def test_mfa_not_enforced_lists_both_forms():
    result = root_mfa_enforcement(_path(), ROOT_ARN)

    assert len(result.allowed_without_mfa) == 2 * len(PROBE_ACTIONS)
    assert "iam:CreateUser with console sign-in (aws:MultiFactorAuthPresent=false)" in result.allowed_without_mfa


def test_mfa_enforced_nothing_open():
    result = root_mfa_enforcement(_path(root=(FULL_ACCESS, ROOT_MFA)), ROOT_ARN)

    assert result.allowed_without_mfa == ()


def test_mfa_unsupported_raises():
    with pytest.raises(UnsupportedPolicyElement) as raised:
        root_mfa_enforcement(_path(root=(FULL_ACCESS, REGION_DENY)), ROOT_ARN)

    assert '"StringNotEquals"' in str(raised.value)
    assert '"DenyOutsideEu" (p-region001)' in str(raised.value)


def test_mfa_scps_disabled():
    result = root_mfa_enforcement((), ROOT_ARN)

    assert result.status == NOT_ENFORCED
    assert "not enabled" in result.message
    assert ROOT_ARN in result.message


def test_mfa_invalid_root_arn():
    with pytest.raises(InvalidRequest, match="root ARN"):
        root_mfa_enforcement(_path(), f"arn:aws:iam::{ACCOUNT_ID}:user/root")


def test_mfa_other_partition():
    result = root_mfa_enforcement(_path(root=(FULL_ACCESS, ROOT_MFA)), f"arn:aws-us-gov:iam::{ACCOUNT_ID}:root")

    # The documented SCP names the aws partition, so it does not match a GovCloud root ARN.
    assert result.status == NOT_ENFORCED


# --------------------------------------------------------------------------------------------
# root_ip_restriction
# --------------------------------------------------------------------------------------------

# (path, restricted, allow-listed CIDRs, denying policy ids, texts the message must contain)
IP_CASES = [
    pytest.param(
        _path(root=(FULL_ACCESS, IP_ALLOW_LIST)),
        True,
        ("192.0.2.0/24", "203.0.113.0/24"),
        ("p-iplist001",),
        ("192.0.2.0/24, 203.0.113.0/24", "from outside the allowed CIDRs"),
        id="allow-list-via-aws-service-false",
    ),
    pytest.param(
        _path(ous=_two_ous((FULL_ACCESS, IP_ALLOW_LIST_IF_EXISTS), (FULL_ACCESS,))),
        True,
        ("198.51.100.0/24", "2001:db8:1234::/48"),
        ("p-iplist002",),
        (f'OU "Workloads" ({WORKLOADS_ID})',),
        id="allow-list-if-exists-two-ous-up",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, IP_ALLOW_LIST_DOC_RANGES)),
        True,
        ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"),
        ("p-iplist003",),
        (),
        id="allow-list-covers-candidates",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, IP_ALLOW_LIST_EVERY_IPV4)),
        False,
        (),
        (),
        ("cover every IPv4 address",),
        id="allow-list-every-ipv4",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, DENY_DIRECT_CALLS)),
        False,
        (),
        (),
        ("No SCP confines", "without an aws:SourceIp condition", '"DenyDirectCalls"'),
        id="via-aws-service-only",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, IP_ALLOW_LIST_ROLES_ONLY)),
        False,
        (),
        (),
        ("No SCP confines",),
        id="allow-list-roles-only",
    ),
    pytest.param(_path(), False, (), (), ("No SCP confines", "any action that no SCP names"), id="full-access-only"),
    pytest.param(_path_in_org("Prod"), False, (), (), ("No SCP confines",), id="sibling-ou-only"),
    pytest.param(
        _path_in_org("Sandbox"),
        True,
        ("192.0.2.0/24", "203.0.113.0/24"),
        ("p-iplist001",),
        (),
        id="in-sibling-ou",
    ),
    pytest.param(
        _path(root=(FULL_ACCESS, IP_ALLOW_LIST, DENY_ROOT)),
        True,
        ("192.0.2.0/24", "203.0.113.0/24"),
        ("p-iplist001",),
        (),
        id="allow-list-and-deny-root",
    ),
    pytest.param(_path(root=(FULL_ACCESS, IP_BLOCK_LIST)), False, (), (), ("No SCP confines",), id="block-list-only"),
    pytest.param(
        _path(root=(FULL_ACCESS, IP_ALLOW_LIST, ROOT_MFA)),
        True,
        ("192.0.2.0/24", "203.0.113.0/24"),
        ("p-iplist001",),
        (),
        id="mfa-does-not-interfere",
    ),
]


@pytest.mark.parametrize(("path", "restricted", "cidrs", "policy_ids", "texts"), IP_CASES)
def test_ip_restriction(path, restricted, cidrs, policy_ids, texts):
    result = root_ip_restriction(path, ROOT_ARN)

    assert result.restricted is restricted
    assert result.cidrs == cidrs
    assert tuple(sorted(ref.policy_id for ref in result.denying_statements)) == policy_ids
    for text in texts:
        assert text in result.message
    assert ROOT_ARN in result.message


def _source_ip_cidrs(policy: Policy) -> list[str]:
    statements = policy.document["Statement"]
    if isinstance(statements, dict):
        statements = [statements]
    cidrs = []
    for statement in statements:
        for pairs in statement["Condition"].values():
            cidrs.extend(pairs.get("aws:SourceIp", []))
    return cidrs


@pytest.mark.parametrize("policy", [IP_ALLOW_LIST, IP_ALLOW_LIST_IF_EXISTS, IP_ALLOW_LIST_DOC_RANGES, IP_BLOCK_LIST])
def test_ip_probe_addresses_outside_ranges(policy):
    result = root_ip_restriction(_path(root=(FULL_ACCESS, policy)), ROOT_ARN)
    ranges = [ipaddress.ip_network(cidr) for cidr in _source_ip_cidrs(policy)]

    versions = sorted(ipaddress.ip_address(address).version for address in result.probe_addresses)
    assert versions == [4, 6]
    for address in result.probe_addresses:
        assert not any(ipaddress.ip_address(address) in network for network in ranges)


def test_ip_scps_disabled():
    result = root_ip_restriction((), ROOT_ARN)

    assert not result.restricted
    assert "not enabled" in result.message


def test_ip_unsupported_ip_statement_raises():
    # Root is denied anyway, but whether the IP statement also denies depends on an unsupported key.
    with pytest.raises(UnsupportedPolicyElement, match="aws:RequestedRegion"):
        root_ip_restriction(_path(root=(FULL_ACCESS, IP_ALLOW_LIST_WITH_REGION, DENY_ROOT)), ROOT_ARN)


def test_ip_unsupported_elsewhere_ignored():
    result = root_ip_restriction(_path(root=(FULL_ACCESS, IP_ALLOW_LIST, REGION_DENY)), ROOT_ARN)

    assert result.restricted


# --------------------------------------------------------------------------------------------
# applies_to
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "applies"), [("member", True), ("management", False), (None, False)])
def test_applies_to_role(role, applies):
    assert applies_to(role) is applies


# --- Probes that must not mistake a gap for enforcement ------------------------------------------

ROOT_CONDITION = {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}


def _deny(policy_id: str, statement: dict[str, Any]) -> Policy:
    return _policy(policy_id, policy_id, {"Effect": "Deny", "Resource": "*", **statement})


def _mfa_condition(**extra: Any) -> dict[str, Any]:
    return {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}, **ROOT_CONDITION, **extra}


ALLOW_SOME_SERVICES = _policy(
    "p-allowsome", "AllowSomeServices", {"Effect": "Allow", "Action": ["dynamodb:*", "secretsmanager:*"], "Resource": "*"}
)
ALLOW_FROM_OFFICE = _policy(
    "p-allowoffice",
    "AllowFromOffice",
    {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}},
)


@pytest.mark.parametrize(
    "path",
    [
        _path(ous=(("Workloads", WORKLOADS_ID, (ALLOW_SOME_SERVICES,)),)),
        _path(ous=(("Workloads", WORKLOADS_ID, (ALLOW_FROM_OFFICE,)),)),
        _path(root=(FULL_ACCESS, _deny("p-notaction", {"NotAction": ["secretsmanager:GetSecretValue"], "Condition": _mfa_condition()}))),
        _path(
            root=(
                FULL_ACCESS,
                _policy(
                    "p-notresource",
                    "MfaExceptJewels",
                    {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::crown-jewels/*", "Condition": _mfa_condition()},
                ),
            )
        ),
        _path(root=(FULL_ACCESS, _deny("p-ipv4only", {"Action": "*", "Condition": _mfa_condition(IpAddress={"aws:SourceIp": "0.0.0.0/0"})}))),
    ],
    ids=["allow-list-without-mfa-deny", "allow-from-office-only", "notaction-exemption", "notresource-exemption", "ipv4-only-deny"],
)
def test_mfa_gap_not_called_enforced(path):
    assert root_mfa_enforcement(path, ROOT_ARN).status == NOT_ENFORCED


def test_ip_restriction_checks_requests_without_mfa():
    console_only = _deny(
        "p-ipconsole",
        {
            "Action": "*",
            "Condition": {
                "NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"},
                "Null": {"aws:MultiFactorAuthPresent": "false"},
                **ROOT_CONDITION,
            },
        },
    )

    assert root_ip_restriction(_path(root=(FULL_ACCESS, console_only)), ROOT_ARN).restricted is False


def test_ip_restriction_checks_notaction_exemptions():
    exempting = _deny(
        "p-ipexempt",
        {"NotAction": ["secretsmanager:GetSecretValue"], "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}, **ROOT_CONDITION}},
    )

    assert root_ip_restriction(_path(root=(FULL_ACCESS, exempting)), ROOT_ARN).restricted is False


def test_wildcard_runs_do_not_backtrack():
    # Many `*` in a row once took minutes to match; collapsed, the pattern matches at once.
    pattern = "arn" + "*" * 40 + "Z"
    policy = _deny("p-stars", {"Action": "*", "Condition": {"StringLike": {"aws:PrincipalArn": pattern}}})

    assert root_mfa_enforcement(_path(root=(FULL_ACCESS, policy)), ROOT_ARN).status == NOT_ENFORCED
