"""Adapt moto so that an IAM user named `<root_account>` plays each account's root user.

moto 5.2 has no root user, but it accepts an IAM user literally named `<root_account>`. While
`root_user_adaptation()` is active, that user looks to the IAM API the way AWS shows the root
user: in the credential report, in `GetAccountSummary` and as the owner of virtual MFA devices.
Every change to moto's classes is a `unittest.mock.patch.object` that is undone when the context
exits. The patched functions read moto's models and write only idempotent values (the report's
generation time), so concurrent collection threads may call them while the context is active.

The module also sets what moto has no API for (creation and last-used dates) directly on moto's
model objects, and `organization_trails_in_members()` shows an organization's trails to its member
accounts as AWS does. It is the only place in the package that reaches into moto's internals.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from unittest import mock

from moto.cloudtrail.models import CloudTrailBackend, Trail, cloudtrail_backends
from moto.core.exceptions import AccessDeniedError
from moto.core.responses import ActionResult
from moto.iam.models import AccessKeyLastUsed, AccountSummary, IAMBackend, User, iam_backends
from moto.iam.responses import IamResponse
from moto.moto_api._internal import mock_random
from moto.organizations.models import organizations_backends
from moto.utilities.utils import get_partition

from awscompliance.credential_report import REQUIRED_COLUMNS, ROOT_USER_NAME

logger = logging.getLogger(__name__)

# The form of report dates, which moto and AWS share.
_REPORT_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S+00:00"

# The demo's accounts live in the commercial partition, `aws`.
_PARTITION = get_partition("us-east-1")

# The actions an SCP denies in an account whose credential report is blocked.
CREDENTIAL_REPORT_ACTIONS = ("iam:GenerateCredentialReport", "iam:GetCredentialReport")


@dataclass
class RootAdaptation:
    """State of one active adaptation, shared by the patched moto functions."""

    # Account id -> ARN of the principal named in the AccessDenied message.
    denied_report_callers: dict[str, str] = field(default_factory=dict)
    # (account id, partition) -> when the account's credential report was first generated.
    report_generated_times: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # Centralized root access features that ListOrganizationsFeatures returns as enabled: those
    # enabled through IAM EnableOrganizationsRoot* calls, or set directly by a test.
    organization_features: list[str] = field(default_factory=list)

    def deny_credential_report(self, account_id: str, caller_arn: str) -> None:
        """Make Generate/GetCredentialReport in `account_id` fail as an SCP deny would."""
        self.denied_report_callers[account_id] = caller_arn


@contextlib.contextmanager
def root_user_adaptation() -> Iterator[RootAdaptation]:
    """Patch moto's IAM models so that the `<root_account>` user looks like AWS's root user.

    Start it after `mock_aws()` and leave it before `mock_aws()` stops. Every patch is undone on exit.

    NOTE: `ListUsers` and `GetUser` still show `<root_account>` as an IAM user, and a virtual MFA
    device of root still shows moto's `User.UserName` and `User.UserId`. The suite reads neither.
    """
    adaptation = RootAdaptation()
    original_arn = User.arn
    original_to_csv = User.to_csv
    original_summary_map = AccountSummary.summary_map
    original_generate_report = IAMBackend.generate_report
    original_get_report = IAMBackend.get_credential_report
    original_get_report_response = IamResponse.get_credential_report

    def arn(user: User) -> str:
        # AWS names the root user `arn:<partition>:iam::<account-id>:root` in the report's `arn`
        # column and in `User.Arn` of a virtual MFA device assigned to root. moto writes ":user/".
        if user.name == ROOT_USER_NAME:
            return f"arn:{get_partition(user.region_name)}:iam::{user.account_id}:root"
        return original_arn.fget(user)

    def to_csv(user: User) -> str:
        return _rewrite_report_line(user, original_to_csv(user))

    def summary_map(summary: AccountSummary) -> dict[str, Any]:
        return _with_root_counters(summary, original_summary_map.fget(summary))

    def generate_report(backend: IAMBackend) -> None:
        _raise_if_denied(adaptation, backend, "iam:GenerateCredentialReport")
        original_generate_report(backend)
        # IAM generates a new report at most every 4 hours, so a demo run keeps its first one.
        key = (backend.account_id, backend.partition)
        adaptation.report_generated_times.setdefault(key, datetime.now(timezone.utc).replace(microsecond=0))

    def get_credential_report(backend: IAMBackend) -> str:
        _raise_if_denied(adaptation, backend, "iam:GetCredentialReport")
        return original_get_report(backend)

    def get_credential_report_response(response: IamResponse) -> ActionResult:
        # `GeneratedTime` is when IAM generated the report. moto always returns
        # 2015-02-02T20:02:02Z, which would make every demo report look years old.
        result = original_get_report_response(response)
        backend = response.backend
        generated = adaptation.report_generated_times.get((backend.account_id, backend.partition))
        if generated is None or not isinstance(result.result, dict):
            return result
        return ActionResult({**result.result, "GeneratedTime": generated})

    def list_organizations_features(response: IamResponse) -> ActionResult:
        # AWS returns, from the management account, the organization's id and enabled features.
        return ActionResult(_organization_features(adaptation, response))

    def enable_root_credentials_management(response: IamResponse) -> ActionResult:
        return ActionResult(_enable_feature(adaptation, response, "RootCredentialsManagement"))

    def enable_root_sessions(response: IamResponse) -> ActionResult:
        return ActionResult(_enable_feature(adaptation, response, "RootSessions"))

    with contextlib.ExitStack() as patches:
        # AWS gives root the ARN `...:root`, where moto gives every user `...:user/<name>`.
        patches.enter_context(mock.patch.object(User, "arn", property(arn)))
        # AWS writes root's report row and empty credentials differently from moto.
        patches.enter_context(mock.patch.object(User, "to_csv", to_csv))
        # AWS reports root's credentials in GetAccountSummary, where moto has fixed zeros.
        patches.enter_context(mock.patch.object(AccountSummary, "summary_map", property(summary_map)))
        # AWS enforces SCPs, which moto does not, so the denied accounts are named here.
        patches.enter_context(mock.patch.object(IAMBackend, "generate_report", generate_report))
        patches.enter_context(mock.patch.object(IAMBackend, "get_credential_report", get_credential_report))
        # AWS returns the report's generation time, where moto returns a fixed date in 2015.
        patches.enter_context(
            mock.patch.object(IamResponse, "get_credential_report", get_credential_report_response)
        )
        # AWS implements ListOrganizationsFeatures and the two calls that enable centralized root
        # access; moto 5.2.1 implements none of them.
        patches.enter_context(
            mock.patch.object(IamResponse, "list_organizations_features", list_organizations_features, create=True)
        )
        patches.enter_context(
            mock.patch.object(
                IamResponse,
                "enable_organizations_root_credentials_management",
                enable_root_credentials_management,
                create=True,
            )
        )
        patches.enter_context(
            mock.patch.object(IamResponse, "enable_organizations_root_sessions", enable_root_sessions, create=True)
        )
        logger.debug("moto root-user adaptation installed")
        yield adaptation
    logger.debug("moto root-user adaptation removed")


def _organization_features(adaptation: RootAdaptation, response: IamResponse) -> dict[str, Any]:
    organization = organizations_backends[response.current_account][_PARTITION].org
    result: dict[str, Any] = {"EnabledFeatures": list(adaptation.organization_features)}
    if organization is not None:
        result["OrganizationId"] = organization.id
    return result


def _enable_feature(adaptation: RootAdaptation, response: IamResponse, feature: str) -> dict[str, Any]:
    # Enabling a feature that is already enabled changes nothing. AWS returns the organization's
    # id and every enabled feature.
    # NOTE: AWS also requires trusted access for IAM in Organizations, which moto 5.2.1 cannot
    # record (it rejects the service principal iam.amazonaws.com), so that is not checked here.
    if feature not in adaptation.organization_features:
        adaptation.organization_features.append(feature)
    return _organization_features(adaptation, response)


def _raise_if_denied(adaptation: RootAdaptation, backend: IAMBackend, action: str) -> None:
    caller_arn = adaptation.denied_report_callers.get(backend.account_id)
    if caller_arn is None:
        return
    # AWS's message for an SCP deny names the caller, the action, the resource and the policy type.
    raise AccessDeniedError(
        user_arn=caller_arn,
        action=f"{action} on resource: * with an explicit deny in a service control policy",
    )


def _rewrite_report_line(user: User, line: str) -> str:
    """Rewrite one line of moto's credential report the way AWS writes that principal's row."""
    values = dict(zip(REQUIRED_COLUMNS, next(csv.reader([line]))))
    has_password = bool(user.password)

    # AWS writes N/A in both password dates of a user without a password. moto writes
    # `not_supported` as the last use and the creation date as the last change.
    if not has_password:
        values["password_last_used"] = "N/A"
        values["password_last_changed"] = "N/A"

    # AWS writes the region and service of a key's last use, or N/A. moto always writes `not_supported`.
    for number in (1, 2):
        region, service = _key_last_used_place(user, number)
        values[f"access_key_{number}_last_used_region"] = region
        values[f"access_key_{number}_last_used_service"] = service

    if user.name == ROOT_USER_NAME:
        _rewrite_root_columns(user, values)

    # NOTE: moto writes N/A in cert_N_last_rotated even when a certificate exists. The demo
    # uploads no signing certificates, so its reports need no fix there.
    output = io.StringIO()
    csv.writer(output, lineterminator="\n").writerow(values[column] for column in REQUIRED_COLUMNS)
    return output.getvalue()


def _rewrite_root_columns(root: User, values: dict[str, str]) -> None:
    # AWS writes `not_supported` in root's `password_enabled` when root has a password, and
    # `false` once the password was removed through centralized root access.
    values["password_enabled"] = "not_supported" if root.password else "false"
    # Root's last sign-in is a date, or `no_information` if root never signed in.
    last_used = root.password_last_used
    values["password_last_used"] = last_used.strftime(_REPORT_DATE_FORMAT) if last_used else "no_information"
    # Root has no password age or rotation: AWS always writes `not_supported` in both columns.
    values["password_last_changed"] = "not_supported"
    values["password_next_rotation"] = "not_supported"


def _key_last_used_place(user: User, number: int) -> tuple[str, str]:
    if len(user.access_keys) < number:
        return "N/A", "N/A"
    last_used = user.access_keys[number - 1].last_used
    # moto lets callers store a bare datetime in `last_used`, which carries no region or service.
    if not isinstance(last_used, AccessKeyLastUsed):
        return "N/A", "N/A"
    return last_used.region, last_used.service


def _with_root_counters(summary: AccountSummary, summary_map: dict[str, Any]) -> dict[str, Any]:
    """Add GetAccountSummary's root counters, which moto leaves at 0 or omits."""
    users = summary._iam_backend.users
    root = users.get(ROOT_USER_NAME)

    # AWS counts only IAM users in `Users`, and the root user is not an IAM user.
    summary_map["Users"] = len(users) - (1 if root else 0)
    # The four root counters are 0 or 1. `AccountAccessKeysPresent` counts Inactive keys too.
    summary_map["AccountMFAEnabled"] = int(bool(root and root.mfa_devices))
    summary_map["AccountAccessKeysPresent"] = int(bool(root and root.access_keys))
    summary_map["AccountPasswordPresent"] = int(bool(root and root.password))
    summary_map["AccountSigningCertificatesPresent"] = int(bool(root and root.signing_certificates))
    return summary_map


def _iam_backend(account_id: str) -> IAMBackend:
    return iam_backends[account_id][_PARTITION]


def _iam_user(account_id: str, user_name: str) -> User:
    return _iam_backend(account_id).get_user(user_name)


def backdate_user(
    account_id: str,
    user_name: str,
    *,
    created: datetime,
    password_last_used: datetime | None = None,
) -> None:
    """Set a user's creation date and last sign-in, which IAM records but no API sets."""
    user = _iam_user(account_id, user_name)
    user.create_date = _as_utc(created)
    user.password_last_used = _as_utc(password_last_used) if password_last_used else None


def backdate_access_key(
    account_id: str,
    user_name: str,
    access_key_id: str,
    *,
    created: datetime,
    last_used: datetime | None = None,
    region: str = "us-east-1",
    service: str = "iam",
) -> None:
    """Set an access key's creation date and last use, which IAM records but no API sets."""
    key = _iam_user(account_id, user_name).get_access_key_by_id(access_key_id)
    key.create_date = _as_utc(created)
    key.last_used = None
    if last_used is not None:
        key.last_used = AccessKeyLastUsed(timestamp=_as_utc(last_used), service=service, region=region)


def rename_organization_account(account_id: str, name: str) -> None:
    """Rename an account of the organization, for which moto offers no API."""
    backend = organizations_backends[account_id][_PARTITION]
    backend.get_account_by_id(account_id).name = name


def backdate_mfa_devices(account_id: str, user_name: str, *, enabled: datetime) -> None:
    """Set when a user's MFA devices were enabled, for virtual devices' `EnableDate`."""
    user = _iam_user(account_id, user_name)
    backend = _iam_backend(account_id)
    for serial_number, device in user.mfa_devices.items():
        device.enable_date = _as_utc(enabled)
        virtual_device = backend.virtual_mfa_devices.get(serial_number)
        if virtual_device is not None:
            virtual_device.enable_date = _as_utc(enabled)


@contextlib.contextmanager
def organization_trails_in_members() -> Iterator[None]:
    """Patch moto's CloudTrail so that member accounts see their organization's trails.

    In AWS, an organization trail created in the management account is also listed by
    `DescribeTrails` in every member account, with the management account's trail ARN, unless
    `includeShadowTrails` is false. moto 5.2 lists a trail only in the account that created it.
    Start it after `mock_aws()`; the patch is undone on exit.
    """
    original_describe_trails = CloudTrailBackend.describe_trails

    def describe_trails(backend: CloudTrailBackend, include_shadow_trails: bool) -> list[Trail]:
        trails = list(original_describe_trails(backend, include_shadow_trails))
        if include_shadow_trails:
            trails += _organization_trails_of(backend)
        return trails

    with mock.patch.object(CloudTrailBackend, "describe_trails", describe_trails):
        logger.debug("moto organization trail adaptation installed")
        yield
    logger.debug("moto organization trail adaptation removed")


def _organization_trails_of(backend: CloudTrailBackend) -> list[Trail]:
    """Return the organization trails that DescribeTrails lists to a member account in the backend's Region."""
    # moto records each member account's management account when the member is created.
    management = organizations_backends.master_accounts.get(backend.account_id)
    if management is None or management[0] == backend.account_id:
        return []
    trails = []
    # A multi-Region trail shows in every Region, a single-Region trail only in its own.
    for regional in list(cloudtrail_backends[management[0]].values()):
        trails += [
            trail
            for trail in regional.trails.values()
            if trail.is_org_trail and (trail.is_multi_region or trail.region_name == backend.region_name)
        ]
    return trails


@contextlib.contextmanager
def seeded_random(seed: int) -> Iterator[None]:
    """Seed moto's random generator, so the same calls create the same ids on every run.

    Account ids, user ids and key ids then repeat from run to run, which keeps test ids stable
    (pytest-xdist requires every worker to collect the same ids). The previous state is restored.
    """
    state = mock_random.getstate()
    mock_random.seed(seed)
    try:
        yield
    finally:
        mock_random.setstate(state)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"datetime {moment.isoformat()} has no time zone; pass a timezone-aware UTC datetime")
    return moment.astimezone(timezone.utc)
