"""The demo organization: its accounts, SCPs and detection setup, the verdicts they give, and moto's restored state."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.cloudtrail.models import CloudTrailBackend
from moto.iam.responses import IamResponse

from awscompliance.accounts import AccountTarget
from awscompliance.catalog import CONTROLS
from awscompliance.collect import CollectSettings, collect_all
from awscompliance.credential_report import ROOT_USER_NAME, Special, parse_report
from awscompliance.demo import DemoNotRunningError, moto_root, start_demo
from awscompliance.demo.organization import CORPORATE_CIDRS, MEMBER_ACCOUNTS
from awscompliance.evidence import AuditSettings, Evidence, Status, Verdict
from awscompliance.readonly import WriteCallRejected
from awscompliance.sources import link_management_detection

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
DENIED_ACCOUNT = "legacy-migration"
PRODUCTION_ACCOUNTS = ("prod-payments", "prod-web", "prod-data")
ORGANIZATION_TRAIL = "organization-trail"


def by_name(targets: list[AccountTarget]) -> dict[str, AccountTarget]:
    return {target.account.name: target for target in targets}


def credential_report(iam):
    iam.generate_credential_report()
    return parse_report(iam.get_credential_report()["Content"])


def root_row(iam):
    return credential_report(iam).root


def summary(iam) -> dict[str, int]:
    return iam.get_account_summary()["SummaryMap"]


def assigned_devices(iam) -> dict[str, str]:
    """Serial number -> User.Arn of the account's assigned virtual MFA devices."""
    devices = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    return {device["SerialNumber"]: device["User"]["Arn"] for device in devices}


def policy_names(evidence: Evidence) -> list[list[str]]:
    """The SCP names at each level of the account's SCP path, from the organization root down."""
    return [[policy.name for policy in level.policies] for level in evidence.organization.scp_path]


class _IamClients:
    """Account name -> a new IAM client of that account's session.

    A member's session is valid until the next member's session is made on the same thread, so
    each look-up makes a new one rather than keeping one client per account.
    """

    def __init__(self, named: dict[str, AccountTarget]) -> None:
        self._named = named

    def __getitem__(self, name: str) -> Any:
        return self._named[name].session_factory().client("iam")

    def names(self) -> list[str]:
        return list(self._named)


class TestSeededOrganization:
    """Reads of one demo organization, started once for the class."""

    @pytest.fixture(scope="class")
    def targets(self) -> Iterator[list[AccountTarget]]:
        with start_demo(now=NOW) as targets:
            yield targets

    @pytest.fixture(scope="class")
    def named(self, targets: list[AccountTarget]) -> dict[str, AccountTarget]:
        return by_name(targets)

    @pytest.fixture(scope="class")
    def iam(self, named: dict[str, AccountTarget]) -> _IamClients:
        """Account name -> IAM client acting in that account."""
        return _IamClients(named)

    @pytest.fixture(scope="class")
    def collected(self, targets: list[AccountTarget]) -> list[Evidence]:
        return collect_all(targets, CollectSettings(sleep=lambda seconds: None), workers=8)

    @pytest.fixture(scope="class")
    def evidence(self, collected: list[Evidence]) -> dict[str, Evidence]:
        """Account name -> evidence, each member linked to the management account's detection evidence."""
        return {item.account.name: item for item in link_management_detection(list(collected))}

    @pytest.fixture(scope="class")
    def verdicts(self, evidence: dict[str, Evidence]) -> dict[str, dict[str, Verdict]]:
        """Control id -> account name -> verdict, judged as of NOW."""
        settings = AuditSettings(as_of=NOW)
        return {
            control_id: {name: control.evaluate(item, settings) for name, item in evidence.items()}
            for control_id, control in CONTROLS.items()
        }

    def test_targets_sorted_unique(self, targets):
        ids = [target.account.account_id for target in targets]

        assert len(targets) >= 12
        assert len(set(ids)) == len(ids)
        assert ids == sorted(ids)

    def test_targets_source_and_names(self, targets):
        assert {target.account.source for target in targets} == {"demo"}
        assert all(target.account.name for target in targets)

    def test_includes_management_account(self, named):
        management = named["management"]
        organization = management.session_factory().client("organizations").describe_organization()

        assert organization["Organization"]["MasterAccountId"] == management.account.account_id

    def test_closed_account_excluded(self, named):
        closed = [seed.name for seed in MEMBER_ACCOUNTS if seed.closed]

        assert closed
        assert not set(closed) & set(named)

    def test_closed_account_listed_suspended(self, named):
        organizations = named["management"].session_factory().client("organizations")
        states = {account["Name"]: account["State"] for account in organizations.list_accounts()["Accounts"]}

        assert states["retired-analytics"] == "SUSPENDED"

    def test_ous_nested_three_levels(self, named):
        organizations = named["management"].session_factory().client("organizations")
        child = named["dev-alpha"].account.account_id
        parent_types = []
        while True:
            parent = organizations.list_parents(ChildId=child)["Parents"][0]
            parent_types.append(parent["Type"])
            if parent["Type"] == "ROOT":
                break
            child = parent["Id"]

        assert parent_types == ["ORGANIZATIONAL_UNIT"] * 3 + ["ROOT"]

    def test_denied_account_ou_has_scp(self, named):
        organizations = named["management"].session_factory().client("organizations")
        parent = organizations.list_parents(ChildId=named[DENIED_ACCOUNT].account.account_id)["Parents"][0]
        policies = organizations.list_policies_for_target(TargetId=parent["Id"], Filter="SERVICE_CONTROL_POLICY")

        assert "DenyCredentialReport" in {policy["Name"] for policy in policies["Policies"]}

    def test_sessions_act_in_own_account(self, targets):
        for target in targets:
            identity = target.session_factory().client("sts").get_caller_identity()
            assert identity["Account"] == target.account.account_id, target.account.label

    def test_sessions_use_us_east_1(self, targets):
        for target in targets:
            assert target.session_factory().region_name == "us-east-1", target.account.label

    def test_sessions_reject_writes(self, iam):
        with pytest.raises(WriteCallRejected):
            iam["prod-web"].create_user(UserName="intruder")

    def test_report_root_row_per_account(self, named, iam):
        for name, target in named.items():
            if name == DENIED_ACCOUNT:
                continue
            report = credential_report(iam[name])
            account_id = target.account.account_id
            assert report.account_id == account_id
            assert report.root is not None, target.account.label
            assert report.root.arn == f"arn:aws:iam::{account_id}:root"
            assert report.root.user == ROOT_USER_NAME

    def test_report_has_iam_users(self, iam):
        for name in iam.names():
            if name == DENIED_ACCOUNT:
                continue
            assert credential_report(iam[name]).users, name

    def test_report_generated_time_recent(self, iam):
        iam["prod-web"].generate_credential_report()
        generated = iam["prod-web"].get_credential_report()["GeneratedTime"]

        # moto alone reports 2015-02-02 for every report.
        assert generated.year > 2015

    def test_denied_account_access_denied(self, iam):
        with pytest.raises(ClientError) as raised:
            iam[DENIED_ACCOUNT].generate_credential_report()
        error = raised.value.response["Error"]
        assert error["Code"] == "AccessDenied"
        assert "iam:GenerateCredentialReport" in error["Message"]
        assert "service control policy" in error["Message"]
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    def test_denied_account_other_reads_work(self, iam):
        assert summary(iam[DENIED_ACCOUNT])["AccountPasswordPresent"] == 1

    def test_root_usage_dates(self, iam):
        assert root_row(iam["management"]).password_last_used == NOW - timedelta(days=200)
        assert root_row(iam["prod-payments"]).password_last_used == NOW - timedelta(days=2)
        assert root_row(iam["dev-beta"]).password_last_used is Special.NO_INFORMATION

    def test_root_key_used_yesterday(self, iam):
        key = root_row(iam["prod-web"]).access_keys[0]

        assert key.active is True
        assert key.last_used_date == NOW - timedelta(days=1)
        assert key.last_used_region == "us-east-1"
        assert key.last_used_service == "iam"

    def test_root_inactive_key_exists(self, iam):
        key = root_row(iam["prod-data"]).access_keys[0]

        assert key.active is False
        assert key.exists
        assert summary(iam["prod-data"])["AccountAccessKeysPresent"] == 1

    def test_root_without_keys(self, iam):
        row = root_row(iam["management"])

        assert not any(key.exists for key in row.access_keys)
        assert summary(iam["management"])["AccountAccessKeysPresent"] == 0

    def test_root_row_password_columns(self, iam):
        row = root_row(iam["management"])

        assert row.password_enabled is Special.NOT_SUPPORTED
        assert row.password_last_changed is Special.NOT_SUPPORTED
        assert row.password_next_rotation is Special.NOT_SUPPORTED

    def test_root_password_removed_centrally(self, iam):
        row = root_row(iam["log-archive"])
        counters = summary(iam["log-archive"])

        assert row.password_enabled is False
        assert row.mfa_active is False
        assert counters["AccountPasswordPresent"] == 0
        assert counters["AccountMFAEnabled"] == 0

    def test_root_mfa_counters(self, iam):
        assert summary(iam["management"])["AccountMFAEnabled"] == 1
        assert summary(iam["prod-payments"])["AccountMFAEnabled"] == 1
        assert summary(iam["prod-web"])["AccountMFAEnabled"] == 0
        assert summary(iam["prod-web"])["AccountPasswordPresent"] == 1

    def test_summary_users_exclude_root(self, iam):
        report = credential_report(iam["prod-payments"])

        assert summary(iam["prod-payments"])["Users"] == len(report.users)

    def test_user_without_password_not_applicable(self, iam):
        users = {row.user: row for row in credential_report(iam["management"]).users}

        assert users["ci-deployer"].password_enabled is False
        assert users["ci-deployer"].password_last_used is Special.NOT_APPLICABLE

    def test_root_virtual_device_root_arn(self, named, iam):
        account_id = named["prod-payments"].account.account_id
        devices = assigned_devices(iam["prod-payments"])

        assert devices[f"arn:aws:iam::{account_id}:mfa/ops-phone"] == f"arn:aws:iam::{account_id}:root"

    def test_root_hardware_and_virtual(self, named, iam):
        account_id = named["prod-data"].account.account_id
        devices = assigned_devices(iam["prod-data"])

        assert devices[f"arn:aws:iam::{account_id}:mfa/backup-phone"] == f"arn:aws:iam::{account_id}:root"
        assert root_row(iam["prod-data"]).mfa_active is True

    def test_hardware_only_root_has_no_virtual_device(self, named, iam):
        account_id = named["management"].account.account_id
        root_arn = f"arn:aws:iam::{account_id}:root"

        assert root_arn not in assigned_devices(iam["management"]).values()
        assert root_row(iam["management"]).mfa_active is True

    def test_user_device_named_like_root_device(self, named, iam):
        account_id = named["security-tooling"].account.account_id
        devices = assigned_devices(iam["security-tooling"])
        owner = devices[f"arn:aws:iam::{account_id}:mfa/root-account-mfa-device"]

        assert owner == f"arn:aws:iam::{account_id}:user/carol.secops"
        assert f"arn:aws:iam::{account_id}:root" not in devices.values()

    def test_collect_all_one_error(self, targets, collected):
        errors = [item for item in collected if item.error is not None]

        assert len(collected) == len(targets)
        assert [item.account.account_id for item in collected] == [target.account.account_id for target in targets]
        assert len(errors) == 1
        assert errors[0].account.name == DENIED_ACCOUNT
        assert "AccessDenied" in errors[0].error

    def test_collect_all_root_rows(self, collected):
        for item in collected:
            if item.error is not None:
                continue
            assert item.credential_report is not None, item.account.label
            assert item.credential_report.root is not None, item.account.label
            assert item.account_summary is not None, item.account.label
            assert item.virtual_mfa_devices is not None, item.account.label


    # --- verdicts of every control ------------------------------------------------------

    @pytest.mark.parametrize("control_id", list(CONTROLS))
    def test_control_passes_somewhere(self, verdicts, control_id):
        statuses = [verdict.status for verdict in verdicts[control_id].values()]

        assert Status.PASS in statuses

    @pytest.mark.parametrize("control_id", list(CONTROLS))
    def test_control_fails_somewhere(self, verdicts, control_id):
        statuses = [verdict.status for verdict in verdicts[control_id].values()]

        assert Status.FAIL in statuses

    def test_only_denied_account_errors(self, verdicts):
        erring = {name for by_account in verdicts.values() for name, verdict in by_account.items() if verdict.status is Status.ERROR}

        assert erring == {DENIED_ACCOUNT}

    @pytest.mark.parametrize("control_id", list(CONTROLS))
    def test_denied_account_errors_everywhere(self, verdicts, control_id):
        assert verdicts[control_id][DENIED_ACCOUNT].status is Status.ERROR

    # --- SCPs ---------------------------------------------------------------------------

    def test_scp_type_enabled_on_root(self, named):
        organizations = named["management"].session_factory().client("organizations")
        policy_types = organizations.list_roots()["Roots"][0]["PolicyTypes"]

        assert {"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"} in policy_types

    def test_full_aws_access_on_every_level(self, evidence):
        for name, item in evidence.items():
            if name == DENIED_ACCOUNT:
                continue
            for level in policy_names(item):
                assert "FullAWSAccess" in level, name

    def test_scp_path_reaches_account(self, evidence):
        levels = [(level.target_type, level.name) for level in evidence["dev-beta"].organization.scp_path]

        assert levels == [
            ("ROOT", "Root"),
            ("ORGANIZATIONAL_UNIT", "Workloads"),
            ("ORGANIZATIONAL_UNIT", "NonProduction"),
            ("ORGANIZATIONAL_UNIT", "Development"),
            ("ACCOUNT", "dev-beta"),
        ]

    def test_bool_if_exists_scp_enforces_mfa(self, verdicts):
        verdict = verdicts["root-mfa-enforced"]["prod-web"]

        assert verdict.status is Status.PASS
        assert verdict.evidence["scp_mfa_enforcement"] == "enforced"
        assert "RequireRootMfa-Production" in verdict.message

    def test_plain_bool_scp_console_only(self, verdicts):
        verdict = verdicts["root-mfa-enforced"]["dev-beta"]

        assert verdict.status is Status.FAIL
        assert verdict.evidence["scp_mfa_enforcement"] == "console-only"
        assert "access keys" in verdict.message
        assert "plain Bool" in verdict.message
        assert "RequireRootMfa-NonProduction" in verdict.message

    def test_deny_root_scp_denies_entirely(self, verdicts):
        verdict = verdicts["root-mfa-enforced"]["audit"]

        assert verdict.status is Status.PASS
        assert "denied entirely" in verdict.message
        assert "DenyRootUser" in verdict.message

    @pytest.mark.parametrize("name", PRODUCTION_ACCOUNTS)
    def test_ip_allow_list_passes(self, verdicts, name):
        verdict = verdicts["root-ip-restricted"][name]

        assert verdict.status is Status.PASS
        assert verdict.evidence["allowed_cidrs"] == list(CORPORATE_CIDRS)
        for cidr in CORPORATE_CIDRS:
            assert cidr in verdict.message

    @pytest.mark.parametrize("name", ["staging-web", "dev-beta", "sandbox-research"])
    def test_ip_allow_list_fails_elsewhere(self, verdicts, name):
        assert verdicts["root-ip-restricted"][name].status is Status.FAIL

    def test_root_denied_entirely_counts_as_restricted(self, verdicts):
        verdict = verdicts["root-ip-restricted"]["security-tooling"]

        assert verdict.status is Status.PASS
        assert "denied entirely" in verdict.message or "entirely" in verdict.message

    def test_sibling_ou_scps_not_applied(self, evidence):
        names = {name for level in policy_names(evidence["dev-beta"]) for name in level}

        assert "RequireRootMfa-NonProduction" in names
        assert "RequireRootMfa-Production" not in names
        assert "RootAllowedNetworks" not in names

    def test_management_scps_skipped(self, verdicts):
        assert verdicts["root-ip-restricted"]["management"].status is Status.SKIP

    # --- centralized root access --------------------------------------------------------

    def test_root_access_features_enabled(self, named):
        features = named["management"].session_factory().client("iam").list_organizations_features()

        assert sorted(features["EnabledFeatures"]) == ["RootCredentialsManagement", "RootSessions"]
        assert features["OrganizationId"].startswith("o-")

    @pytest.mark.parametrize(
        ("name", "status"),
        [("log-archive", Status.PASS), ("dev-alpha", Status.PASS), ("prod-web", Status.FAIL), ("management", Status.SKIP)],
    )
    def test_root_credentials_centralized(self, verdicts, name, status):
        assert verdicts["root-credentials-centralized"][name].status is status

    # --- root-use detection -------------------------------------------------------------

    def test_member_sees_organization_trail(self, named):
        management_id = named["management"].account.account_id
        trails = named["log-archive"].session_factory().client("cloudtrail").describe_trails()["trailList"]

        assert [trail["TrailARN"] for trail in trails] == [
            f"arn:aws:cloudtrail:us-east-1:{management_id}:trail/{ORGANIZATION_TRAIL}"
        ]
        assert trails[0]["IsOrganizationTrail"] is True

    def test_member_hides_organization_trail_without_shadows(self, named):
        cloudtrail = named["log-archive"].session_factory().client("cloudtrail")

        assert cloudtrail.describe_trails(includeShadowTrails=False)["trailList"] == []

    def test_management_lists_organization_trail_once(self, named):
        trails = named["management"].session_factory().client("cloudtrail").describe_trails()["trailList"]

        assert [trail["Name"] for trail in trails] == [ORGANIZATION_TRAIL]

    def test_organization_trail_judged_in_management(self, named, verdicts):
        management_id = named["management"].account.account_id
        verdict = verdicts["root-use-alarm"]["log-archive"]

        assert verdict.status is Status.FAIL
        assert verdict.evidence["trail"] == f"arn:aws:cloudtrail:us-east-1:{management_id}:trail/{ORGANIZATION_TRAIL}"
        # IsLogging is read only in the management account, so it shows the link was followed.
        assert verdict.evidence["IsLogging"] is True
        assert "CloudWatchLogsLogGroupArn" in verdict.message

    @pytest.mark.parametrize("name", ["security-tooling", "audit", "prod-payments"])
    def test_own_alarm_chain_passes(self, verdicts, name):
        verdict = verdicts["root-use-alarm"][name]

        assert verdict.status is Status.PASS
        assert "confirmed email subscription" in verdict.message

    def test_console_login_filter_fails(self, verdicts):
        verdict = verdicts["root-use-alarm"]["prod-web"]

        assert verdict.status is Status.FAIL
        assert "ConsoleLogin" in verdict.message

    def test_filter_without_alarm_fails(self, verdicts):
        verdict = verdicts["root-use-alarm"]["prod-data"]

        assert verdict.status is Status.FAIL
        assert "No CloudWatch alarm watches metric CISBenchmark/RootAccountUsage" in verdict.message

    def test_single_region_trail_fails(self, evidence, verdicts):
        trails = evidence["staging-payments"].detection.trails
        own = [trail for trail in trails if trail.account_id == evidence["staging-payments"].account_id]
        verdict = verdicts["root-use-alarm"]["staging-payments"]

        assert len(own) == 1
        assert own[0].is_multi_region is False
        assert verdict.status is Status.FAIL
        assert verdict.evidence["trails"][own[0].arn] == "fail"

    @pytest.mark.parametrize(
        ("name", "status", "phrase"),
        [
            ("security-tooling", Status.PASS, "Status=ENABLED"),
            ("prod-web", Status.FAIL, "Status=DISABLED"),
            ("dev-alpha", Status.FAIL, "no GuardDuty detector"),
        ],
    )
    def test_guardduty_verdicts(self, verdicts, name, status, phrase):
        verdict = verdicts["root-use-detected-by-guardduty"][name]

        assert verdict.status is status
        assert phrase in verdict.message

    @pytest.mark.parametrize(
        ("name", "missing"),
        [
            ("prod-payments", []),
            ("staging-web", ["ROOT_ACCOUNT_HARDWARE_MFA_ENABLED"]),
            ("prod-web", ["ROOT_ACCOUNT_MFA_ENABLED", "ROOT_ACCOUNT_HARDWARE_MFA_ENABLED"]),
            ("dev-alpha", ["ROOT_ACCOUNT_MFA_ENABLED", "ROOT_ACCOUNT_HARDWARE_MFA_ENABLED", "IAM_ROOT_ACCESS_KEY_CHECK"]),
        ],
    )
    def test_config_rules_missing(self, verdicts, name, missing):
        verdict = verdicts["root-config-rules"][name]

        assert verdict.evidence["missing"] == missing
        assert verdict.status is (Status.FAIL if missing else Status.PASS)


def test_demo_ids_repeat_between_runs():
    with start_demo(now=NOW) as first:
        first_ids = [(target.account.account_id, target.account.name) for target in first]
    with start_demo(now=NOW) as second:
        second_ids = [(target.account.account_id, target.account.name) for target in second]

    assert first_ids == second_ids


@pytest.mark.usefixtures("aws_credentials")
def test_exit_restores_environment(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "someone-else")
    before = dict(os.environ)

    with start_demo(now=NOW):
        assert "AWS_PROFILE" not in os.environ
        assert os.environ["AWS_CONFIG_FILE"] == os.devnull
        assert os.environ["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull

    assert dict(os.environ) == before


@pytest.mark.usefixtures("aws_credentials")
def test_exit_restores_moto_user_arn():
    with start_demo(now=NOW):
        pass

    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        arn = iam.create_user(UserName=ROOT_USER_NAME)["User"]["Arn"]
        iam.generate_credential_report()
        report = iam.get_credential_report()

    assert arn.endswith(f":user/{ROOT_USER_NAME}")
    # Plain moto writes not_supported in password_last_used, which AWS never does, so the
    # report is checked as text rather than parsed.
    assert f":user/{ROOT_USER_NAME}," in report["Content"].decode()
    assert ":root," not in report["Content"].decode()
    assert report["GeneratedTime"].year == 2015


@pytest.mark.usefixtures("aws_credentials")
def test_exit_restores_moto_summary():
    with start_demo(now=NOW):
        pass

    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName=ROOT_USER_NAME)
        counters = iam.get_account_summary()["SummaryMap"]

    assert "AccountPasswordPresent" not in counters
    assert counters["Users"] == 1


@pytest.mark.usefixtures("aws_credentials")
def test_target_after_exit_raises():
    with start_demo(now=NOW) as targets:
        target = targets[0]

    with pytest.raises(DemoNotRunningError):
        target.session_factory()


def test_naive_now_rejected():
    with pytest.raises(ValueError, match="no time zone"):
        with start_demo(now=datetime(2026, 6, 1)):
            pass


@pytest.mark.usefixtures("aws_credentials")
def test_exit_restores_moto_trails_and_features():
    describe_trails = CloudTrailBackend.describe_trails
    enable_sessions = getattr(IamResponse, "enable_organizations_root_sessions", None)

    with start_demo(now=NOW):
        assert CloudTrailBackend.describe_trails is not describe_trails

    assert CloudTrailBackend.describe_trails is describe_trails
    assert getattr(IamResponse, "enable_organizations_root_sessions", None) is enable_sessions


@pytest.mark.usefixtures("aws_credentials")
def test_member_sees_only_org_trails_of_region():
    with mock_aws(), moto_root.organization_trails_in_members():
        organizations = boto3.client("organizations")
        organizations.create_organization(FeatureSet="ALL")
        member_id = organizations.create_account(AccountName="member", Email="member@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        for region, name, multi_region, organization in (
            ("us-east-1", "org-everywhere", True, True),
            ("eu-west-1", "org-ireland-only", False, True),
            ("us-east-1", "management-only", True, False),
        ):
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=f"logs-{name}")
            boto3.client("cloudtrail", region_name=region).create_trail(
                Name=name, S3BucketName=f"logs-{name}", IsMultiRegionTrail=multi_region, IsOrganizationTrail=organization
            )
        credentials = boto3.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{member_id}:role/OrganizationAccountAccessRole", RoleSessionName="member-view"
        )["Credentials"]
        member = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        virginia = [trail["Name"] for trail in member.client("cloudtrail", "us-east-1").describe_trails()["trailList"]]
        ireland = [trail["Name"] for trail in member.client("cloudtrail", "eu-west-1").describe_trails()["trailList"]]

    assert virginia == ["org-everywhere"]
    assert sorted(ireland) == ["org-everywhere", "org-ireland-only"]
