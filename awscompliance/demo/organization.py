"""The demo organization: a simulated AWS Organization in moto that the suite audits live.

`start_demo()` starts moto, seeds an organization of 13 active accounts and a closed one, and
yields one `AccountTarget` per active account. Between them the accounts pass and fail every
control: their root users, the SCPs attached along their OU paths, centralized root access, and
what each account set up to detect root use (CloudTrail with the CIS alarm chain, GuardDuty, AWS
Config). The suite then collects evidence from those targets through the same code path as from
a real organization: the management account is reached with the calling session, and each member
through STS AssumeRole of `OrganizationAccountAccessRole`.

The organization is seeded through the AWS API wherever moto offers one. What AWS records but no
API sets (last sign-in, key last use, creation dates), the root user itself, centralized root
access and members' view of the organization trail come from `moto_root`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

import boto3
import botocore.loaders
import botocore.session
from moto import mock_aws

from awscompliance.accounts import AccountTarget, session_from_credentials
from awscompliance.credential_report import ROOT_USER_NAME
from awscompliance.demo import moto_root
from awscompliance.demo.detection_seed import (
    ALL_ROOT_CONFIG_RULES,
    ROOT_CONSOLE_LOGIN_PATTERN,
    DetectionSeed,
    TrailSeed,
    seed_detection,
)
from awscompliance import organization
from awscompliance.organization import discover_organization

logger = logging.getLogger(__name__)

REGION = "us-east-1"
SOURCE = "demo"
# Role that Organizations creates in every account it creates, trusted by the management account.
MEMBER_ROLE_NAME = "OrganizationAccountAccessRole"
# The session name that --org discovery gives the member roles it assumes.
ROLE_SESSION_NAME = organization.ROLE_SESSION_NAME

# Fake credentials. moto accepts any key and maps an unknown one to its default account,
# which becomes the management account.
_FAKE_CREDENTIALS = {"AccessKeyId": "testing", "SecretAccessKey": "testing"}
# The same seed gives the same account ids on every run.
_RANDOM_SEED = 20241114
# moto stores login profile passwords without checking them, and nothing signs in with this one.
_DEMO_PASSWORD = "demo-Password-not-a-secret-1"
# Authentication codes are not checked by moto when an MFA device is enabled.
_MFA_CODES = {"AuthenticationCode1": "123456", "AuthenticationCode2": "654321"}


class DemoNotRunningError(RuntimeError):
    """A demo target's session was requested after the demo had stopped."""


@dataclass
class _Lifetime:
    """Whether the demo that created a target is still running."""

    active: bool = True


@dataclass(frozen=True)
class KeySeed:
    """One access key of a seeded principal."""

    age_days: int
    # Days since the key was last used, or None when it was never used.
    last_used_days: int | None = None
    active: bool = True


@dataclass(frozen=True)
class PrincipalSeed:
    """The root user or an IAM user of a seeded account, with its credentials."""

    name: str
    has_password: bool = False
    # Days since the password was last used to sign in, or None when it never was.
    password_last_used_days: int | None = None
    # Serial numbers of hardware MFA devices (not ARNs, so they are not virtual devices).
    hardware_mfa: tuple[str, ...] = ()
    # Names of virtual MFA devices, whose serials become `arn:aws:iam::<id>:mfa/<name>`.
    virtual_mfa: tuple[str, ...] = ()
    access_keys: tuple[KeySeed, ...] = ()


@dataclass(frozen=True)
class AccountSeed:
    """One account of the demo organization and what its root user shows."""

    name: str
    # OU names from the organization root down to the account's parent, or () for the root.
    ou_path: tuple[str, ...]
    # One-line description of the case the account demonstrates.
    story: str
    root: PrincipalSeed
    users: tuple[PrincipalSeed, ...] = ()
    # Days since the account (and its root user) was created.
    age_days: int = 900
    # An SCP denies the credential report actions, so collection fails with AccessDenied.
    report_denied: bool = False
    # The account is closed (SUSPENDED) and must not be audited.
    closed: bool = False
    # What the account set up to detect root use, in the demo's home Region.
    detection: DetectionSeed = DetectionSeed()


def _root(**credentials: Any) -> PrincipalSeed:
    return PrincipalSeed(name=ROOT_USER_NAME, **credentials)


# IAM users shared by several accounts.
_ADMIN = PrincipalSeed(
    "alice.admin", has_password=True, password_last_used_days=1, virtual_mfa=("alice.admin",),
    access_keys=(KeySeed(age_days=40, last_used_days=1),),
)
_DEPLOYER = PrincipalSeed("ci-deployer", access_keys=(KeySeed(age_days=400, last_used_days=0),))
_ANALYST = PrincipalSeed("bob.analyst", has_password=True)
_LEGACY_SERVICE = PrincipalSeed(
    "legacy-batch", access_keys=(KeySeed(age_days=1200, active=False), KeySeed(age_days=700, last_used_days=90)),
)

# Detection set up by several accounts. The security baseline turns GuardDuty on and deploys every
# AWS managed Config rule on root; monitored accounts also build their own CIS root-use alarm.
_BASELINE = DetectionSeed(guardduty_enabled=True, config_rules=ALL_ROOT_CONFIG_RULES)
_MONITORED = DetectionSeed(trail=TrailSeed(), guardduty_enabled=True, config_rules=ALL_ROOT_CONFIG_RULES)

MANAGEMENT_ACCOUNT = AccountSeed(
    name="management",
    ou_path=(),
    story=(
        "Hardware MFA, no keys, root last signed in 200 days ago: passes every root control. Its organization "
        "trail logs every member to S3 only, so no metric filter sees root use."
    ),
    root=_root(has_password=True, password_last_used_days=200, hardware_mfa=("GAHT10000001",)),
    users=(_ADMIN, _DEPLOYER),
    age_days=2500,
    detection=DetectionSeed(
        trail=TrailSeed(name="organization-trail", organization=True, deliver_to_logs=False),
        guardduty_enabled=True,
        config_rules=ALL_ROOT_CONFIG_RULES,
    ),
)

MEMBER_ACCOUNTS = (
    AccountSeed(
        name="security-tooling",
        ou_path=("Security",),
        story=(
            "Root uses hardware MFA while an IAM user's virtual device is named root-account-mfa-device. "
            "Its own trail completes the CIS root-use alarm."
        ),
        root=_root(has_password=True, hardware_mfa=("GAHT10000002",)),
        users=(
            PrincipalSeed("carol.secops", has_password=True, password_last_used_days=3,
                          virtual_mfa=("root-account-mfa-device",)),
            _ANALYST,
        ),
        age_days=2000,
        detection=_MONITORED,
    ),
    AccountSeed(
        name="log-archive",
        ou_path=("Security",),
        story="Root credentials removed centrally: no password, no MFA, no keys. Only the organization trail logs it.",
        root=_root(has_password=False),
        users=(_DEPLOYER,),
        age_days=2000,
        detection=_BASELINE,
    ),
    AccountSeed(
        name="audit",
        ou_path=("Security",),
        story=(
            "Root has a password and no MFA, but the Security OU's SCP denies root every action outside "
            "centralized root sessions."
        ),
        root=_root(has_password=True, password_last_used_days=700),
        users=(_ANALYST,),
        age_days=2000,
        detection=_MONITORED,
    ),
    AccountSeed(
        name="prod-payments",
        ou_path=("Workloads", "Production"),
        story=(
            "Root signed in 2 days ago and uses only a virtual MFA device named ops-phone. Production's SCP "
            "allows root only from the corporate networks."
        ),
        root=_root(has_password=True, password_last_used_days=2, virtual_mfa=("ops-phone",)),
        users=(_ADMIN, _DEPLOYER, _ANALYST),
        detection=_MONITORED,
    ),
    AccountSeed(
        name="prod-web",
        ou_path=("Workloads", "Production"),
        story=(
            "Root has a password without MFA and an active access key used yesterday, which Production's "
            "BoolIfExists SCP denies. Its root filter counts console sign-ins only, GuardDuty is suspended."
        ),
        root=_root(has_password=True, access_keys=(KeySeed(age_days=600, last_used_days=1),)),
        users=(_DEPLOYER, _LEGACY_SERVICE),
        detection=DetectionSeed(
            trail=TrailSeed(filter_pattern=ROOT_CONSOLE_LOGIN_PATTERN),
            guardduty_enabled=False,
            config_rules=("IAM_ROOT_ACCESS_KEY_CHECK",),
        ),
    ),
    AccountSeed(
        name="prod-data",
        ou_path=("Workloads", "Production"),
        story=(
            "Root has a hardware key and a virtual device, and an inactive access key it still owns. Its "
            "root-use metric filter has no alarm."
        ),
        root=_root(
            has_password=True, password_last_used_days=200, hardware_mfa=("GAHT10000006",),
            virtual_mfa=("backup-phone",), access_keys=(KeySeed(age_days=800, last_used_days=500, active=False),),
        ),
        users=(_ADMIN, _ANALYST),
        detection=DetectionSeed(trail=TrailSeed(alarm=False), guardduty_enabled=True, config_rules=ALL_ROOT_CONFIG_RULES),
    ),
    AccountSeed(
        name="staging-payments",
        ou_path=("Workloads", "NonProduction"),
        story=(
            "Root's only MFA device is virtual, under AWS's old default name root-account-mfa-device. Its "
            "alarm chain hangs on a single-Region trail; no GuardDuty, no Config rules."
        ),
        root=_root(has_password=True, password_last_used_days=300, virtual_mfa=("root-account-mfa-device",)),
        users=(_DEPLOYER,),
        detection=DetectionSeed(trail=TrailSeed(multi_region=False)),
    ),
    AccountSeed(
        name="staging-web",
        ou_path=("Workloads", "NonProduction"),
        story=(
            "Hardware MFA, no keys, root never signed in: passes every root control. AWS Config lacks the "
            "hardware MFA rule."
        ),
        root=_root(has_password=True, hardware_mfa=("GAHT10000008",)),
        users=(_DEPLOYER, _LEGACY_SERVICE),
        detection=DetectionSeed(
            guardduty_enabled=True, config_rules=("ROOT_ACCOUNT_MFA_ENABLED", "IAM_ROOT_ACCESS_KEY_CHECK")
        ),
    ),
    AccountSeed(
        name="dev-alpha",
        ou_path=("Workloads", "NonProduction", "Development"),
        story="Created after centralized root access was enabled: root has no credentials at all.",
        root=_root(has_password=False),
        users=(_ADMIN,),
        age_days=60,
    ),
    AccountSeed(
        name="dev-beta",
        ou_path=("Workloads", "NonProduction", "Development"),
        story=(
            "Root has a password and no MFA; it has never signed in. NonProduction's MFA SCP uses plain Bool, "
            "which lets access-key requests through."
        ),
        root=_root(has_password=True),
        users=(_ANALYST, _DEPLOYER),
        age_days=120,
        detection=DetectionSeed(guardduty_enabled=False),
    ),
    AccountSeed(
        name="sandbox-research",
        ou_path=("Sandbox",),
        story="Root has two hardware MFA devices and no keys; its last sign-in was 400 days ago.",
        root=_root(has_password=True, password_last_used_days=400, hardware_mfa=("GAHT10000011", "GAHT10000012")),
        users=(_ANALYST,),
    ),
    AccountSeed(
        name="legacy-migration",
        ou_path=("Quarantine",),
        story="An SCP denies the credential report actions, so evidence collection fails with AccessDenied.",
        root=_root(has_password=True, password_last_used_days=30),
        users=(_LEGACY_SERVICE,),
        report_denied=True,
    ),
    AccountSeed(
        name="retired-analytics",
        ou_path=("Suspended",),
        story="Closed (SUSPENDED): listed by the organization but not audited.",
        root=_root(has_password=True, access_keys=(KeySeed(age_days=900),)),
        closed=True,
    ),
)

# SCP attached to the OU of each account whose report is denied. The demo's AccessDenied errors
# stand for this deny.
_DENY_REPORT_SCP = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyCredentialReport",
            "Effect": "Deny",
            "Action": list(moto_root.CREDENTIAL_REPORT_ACTIONS),
            "Resource": "*",
        }
    ],
}


@dataclass(frozen=True)
class ScpSeed:
    """A service control policy of the demo organization and the OUs it is attached to."""

    name: str
    description: str
    document: dict[str, Any]
    # OU paths from the organization root, as in `AccountSeed.ou_path`.
    targets: tuple[tuple[str, ...], ...]


# Root's ARN in any account, which aws:PrincipalArn carries for requests signed by a root user.
_ANY_ROOT = "arn:aws:iam::*:root"
# The corporate egress ranges that root may use in Production. These documentation ranges
# (RFC 5737) stand in for an organization's public addresses.
CORPORATE_CIDRS = ("192.0.2.0/24", "198.51.100.0/24")


def _deny_root_without_mfa(bool_operator: str) -> dict[str, Any]:
    # Requests signed with access keys carry no aws:MultiFactorAuthPresent key. BoolIfExists
    # counts the missing key as a match and denies them too; plain Bool does not match them.
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyRootWithoutMfa",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {
                    bool_operator: {"aws:MultiFactorAuthPresent": "false"},
                    "ArnLike": {"aws:PrincipalArn": _ANY_ROOT},
                },
            }
        ],
    }


SERVICE_CONTROL_POLICIES = (
    ScpSeed(
        name="RequireRootMfa-Production",
        description="Denies the root user every action without MFA",
        document=_deny_root_without_mfa("BoolIfExists"),
        targets=(("Workloads", "Production"),),
    ),
    # The same intent written with plain Bool, which leaves access-key requests allowed.
    ScpSeed(
        name="RequireRootMfa-NonProduction",
        description="Denies the root user every action without MFA",
        document=_deny_root_without_mfa("Bool"),
        targets=(("Workloads", "NonProduction"),),
    ),
    ScpSeed(
        name="RootAllowedNetworks",
        description="Denies the root user requests from outside the corporate networks",
        document={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyRootOutsideCorporateNetworks",
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    # Requests that an AWS service makes with root's credentials do not come from
                    # root's address, so aws:ViaAWSService=false leaves them out.
                    "Condition": {
                        "NotIpAddress": {"aws:SourceIp": list(CORPORATE_CIDRS)},
                        "Bool": {"aws:ViaAWSService": "false"},
                        "ArnLike": {"aws:PrincipalArn": _ANY_ROOT},
                    },
                }
            ],
        },
        targets=(("Workloads", "Production"),),
    ),
    ScpSeed(
        name="DenyRootUser",
        description="Denies the root user every action, except centralized root sessions",
        document={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyRootUser",
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    # Only sessions that centralized root access starts (sts:AssumeRoot) carry
                    # aws:AssumedRoot, so Null=true matches every other root request.
                    "Condition": {
                        "ArnLike": {"aws:PrincipalArn": _ANY_ROOT},
                        "Null": {"aws:AssumedRoot": "true"},
                    },
                }
            ],
        },
        targets=(("Security",),),
    ),
)


@contextlib.contextmanager
def start_demo(*, now: datetime | None = None) -> Iterator[list[AccountTarget]]:
    """Start the simulated organization and yield one target per active account, sorted by id.

    `now` (timezone-aware, UTC) anchors every seeded date and defaults to the current time. Inside
    the context, moto intercepts all AWS calls and the environment contains only fake credentials.
    On exit the environment and moto's classes are restored, and the targets stop working.
    """
    if now is None:
        now = datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError(f"now={now.isoformat()} has no time zone; pass a timezone-aware UTC datetime")

    lifetime = _Lifetime()
    with contextlib.ExitStack() as stack:
        stack.enter_context(_fake_environment())
        stack.enter_context(moto_root.seeded_random(_RANDOM_SEED))
        stack.enter_context(mock_aws())
        adaptation = stack.enter_context(moto_root.root_user_adaptation())
        stack.enter_context(moto_root.organization_trails_in_members())

        targets = _build_organization(adaptation, now.astimezone(timezone.utc), lifetime)
        logger.info("demo organization started with %d active accounts", len(targets))
        try:
            yield targets
        finally:
            lifetime.active = False
            logger.info("demo organization stopped")


@contextlib.contextmanager
def _fake_environment() -> Iterator[None]:
    """Replace every AWS_* variable with fake credentials, and restore the environment on exit.

    The config and credentials files point at the null device, so no real profile is ever read.
    While `mock_aws()` is active it sets fake access keys of its own over these.
    """
    with mock.patch.dict(os.environ):
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            del os.environ[name]
        os.environ.update(
            AWS_ACCESS_KEY_ID=_FAKE_CREDENTIALS["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=_FAKE_CREDENTIALS["SecretAccessKey"],
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        yield


def _seeding_session(**kwargs: Any) -> boto3.Session:
    # Seeding writes (CreateUser, CreateAccount, ...), so it cannot use the audit sessions.
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    return boto3.Session(botocore_session=core, region_name=REGION, **kwargs)


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    # Each botocore session reads the service models and endpoints from disk through its own
    # loader. One loader for every seeding session reads each of them once, not once per account.
    return botocore.loaders.create_loader()


def _management_session(lifetime: _Lifetime) -> boto3.Session:
    _check_running(lifetime)
    return session_from_credentials(_FAKE_CREDENTIALS, REGION)


def _check_running(lifetime: _Lifetime) -> None:
    # Outside the demo, fake credentials would be sent to real AWS endpoints.
    if not lifetime.active:
        raise DemoNotRunningError(
            "the demo organization has stopped; use its targets only inside the start_demo() context"
        )


def _member_role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{MEMBER_ROLE_NAME}"


def _build_organization(
    adaptation: moto_root.RootAdaptation, now: datetime, lifetime: _Lifetime
) -> list[AccountTarget]:
    seeder = _seeding_session(
        aws_access_key_id=_FAKE_CREDENTIALS["AccessKeyId"], aws_secret_access_key=_FAKE_CREDENTIALS["SecretAccessKey"]
    )
    organizations = seeder.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    root_id = organizations.list_roots()["Roots"][0]["Id"]
    # AWS applies SCPs only once this policy type is enabled on the root. It then attaches the AWS
    # managed FullAWSAccess SCP to the root, every OU and every account, as moto does at creation.
    organizations.enable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
    management_id = seeder.client("sts").get_caller_identity()["Account"]

    moto_root.rename_organization_account(management_id, MANAGEMENT_ACCOUNT.name)
    _enable_centralized_root_access(seeder.client("iam"))
    seed_account(seeder.client("iam"), management_id, MANAGEMENT_ACCOUNT, now)
    seed_detection(seeder, management_id, MANAGEMENT_ACCOUNT.detection)

    ou_ids = _create_organizational_units(organizations, root_id)
    _attach_service_control_policies(organizations, ou_ids)
    deny_policy_id = _create_deny_report_policy(organizations)
    for seed in MEMBER_ACCOUNTS:
        account_id = _create_member_account(organizations, root_id, ou_ids, seed)
        member = _assumed_seeding_session(seeder, account_id)
        seed_account(member.client("iam"), account_id, seed, now)
        seed_detection(member, account_id, seed.detection)
        if seed.report_denied:
            organizations.attach_policy(PolicyId=deny_policy_id, TargetId=ou_ids[seed.ou_path])
            caller = f"arn:aws:sts::{account_id}:assumed-role/{MEMBER_ROLE_NAME}/{ROLE_SESSION_NAME}"
            adaptation.deny_credential_report(account_id, caller)
        if seed.closed:
            organizations.close_account(AccountId=account_id)

    return _active_targets(lifetime)


def _create_organizational_units(organizations: Any, root_id: str) -> dict[tuple[str, ...], str]:
    """Create every OU on the seeds' paths; return OU path -> OU id, with () for the root."""
    ou_ids: dict[tuple[str, ...], str] = {(): root_id}
    for seed in MEMBER_ACCOUNTS:
        for depth in range(1, len(seed.ou_path) + 1):
            path = seed.ou_path[:depth]
            if path in ou_ids:
                continue
            created = organizations.create_organizational_unit(ParentId=ou_ids[path[:-1]], Name=path[-1])
            ou_ids[path] = created["OrganizationalUnit"]["Id"]
    return ou_ids


def _enable_centralized_root_access(iam: Any) -> None:
    # Centralized root access lets the management account delete members' root credentials
    # (RootCredentialsManagement) and start root sessions in members (RootSessions). Members
    # created afterwards have no root credentials, and enabling it deletes none that exist.
    iam.enable_organizations_root_credentials_management()
    iam.enable_organizations_root_sessions()


def _attach_service_control_policies(organizations: Any, ou_ids: dict[tuple[str, ...], str]) -> None:
    for seed in SERVICE_CONTROL_POLICIES:
        policy = organizations.create_policy(
            Name=seed.name,
            Description=seed.description,
            Type="SERVICE_CONTROL_POLICY",
            Content=json.dumps(seed.document),
        )
        policy_id = policy["Policy"]["PolicySummary"]["Id"]
        for target in seed.targets:
            organizations.attach_policy(PolicyId=policy_id, TargetId=ou_ids[target])


def _create_deny_report_policy(organizations: Any) -> str:
    policy = organizations.create_policy(
        Name="DenyCredentialReport",
        Description="Blocks the IAM credential report in quarantined accounts",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(_DENY_REPORT_SCP),
    )
    return policy["Policy"]["PolicySummary"]["Id"]


def _create_member_account(
    organizations: Any, root_id: str, ou_ids: dict[tuple[str, ...], str], seed: AccountSeed
) -> str:
    # moto completes CreateAccount at once, where AWS returns IN_PROGRESS and callers poll the status.
    status = organizations.create_account(AccountName=seed.name, Email=f"aws+{seed.name}@example.com")
    account_id = status["CreateAccountStatus"]["AccountId"]
    organizations.move_account(
        AccountId=account_id, SourceParentId=root_id, DestinationParentId=ou_ids[seed.ou_path]
    )
    return account_id


def _assumed_seeding_session(seeder: boto3.Session, account_id: str) -> boto3.Session:
    credentials = seeder.client("sts").assume_role(
        RoleArn=_member_role_arn(account_id), RoleSessionName=ROLE_SESSION_NAME
    )["Credentials"]
    return _seeding_session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def seed_account(iam: Any, account_id: str, seed: AccountSeed, now: datetime) -> None:
    """Create the root row and IAM users of `seed` through `iam`, which can be any object with the
    IAM client's methods that this calls (bench/emulator.py passes one backed by moto's backend)."""
    created = now - timedelta(days=seed.age_days)
    for principal in (seed.root, *seed.users):
        _seed_principal(iam, account_id, principal, created, now)
    logger.debug("seeded demo account %s (%s): %s", account_id, seed.name, seed.story)


def _seed_principal(iam: Any, account_id: str, principal: PrincipalSeed, created: datetime, now: datetime) -> None:
    name = principal.name
    iam.create_user(UserName=name)
    if principal.has_password:
        iam.create_login_profile(UserName=name, Password=_DEMO_PASSWORD)

    for serial_number in principal.hardware_mfa:
        iam.enable_mfa_device(UserName=name, SerialNumber=serial_number, **_MFA_CODES)
    for device_name in principal.virtual_mfa:
        device = iam.create_virtual_mfa_device(VirtualMFADeviceName=device_name)["VirtualMFADevice"]
        iam.enable_mfa_device(UserName=name, SerialNumber=device["SerialNumber"], **_MFA_CODES)

    for key in principal.access_keys:
        key_id = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
        if not key.active:
            iam.update_access_key(UserName=name, AccessKeyId=key_id, Status="Inactive")
        # A key cannot be older than its user, so shared user seeds fit young accounts too.
        key_created = max(now - timedelta(days=key.age_days), created)
        last_used = None if key.last_used_days is None else now - timedelta(days=key.last_used_days)
        moto_root.backdate_access_key(account_id, name, key_id, created=key_created, last_used=last_used)

    last_sign_in = None
    if principal.password_last_used_days is not None:
        last_sign_in = now - timedelta(days=principal.password_last_used_days)
    moto_root.backdate_user(account_id, name, created=created, password_last_used=last_sign_in)
    moto_root.backdate_mfa_devices(account_id, name, enabled=created + timedelta(days=1))


def _active_targets(lifetime: _Lifetime) -> list[AccountTarget]:
    """Discover the demo organization exactly as --org discovers a real one."""
    targets = discover_organization(functools.partial(_management_session, lifetime), source=SOURCE)
    return [
        AccountTarget(
            target.account,
            functools.partial(_checked_call, target.session_factory, lifetime),
            # The context reads the SCPs through the management session's clients, which must not
            # outlive moto either.
            functools.partial(_checked_call, target.context_factory, lifetime) if target.context_factory else None,
        )
        for target in targets
    ]


def _checked_call(factory: Callable[[], Any], lifetime: _Lifetime) -> Any:
    _check_running(lifetime)
    return factory()
