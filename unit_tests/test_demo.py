"""The demo organization: its accounts, what each root user shows, and moto's restored state."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from awscompliance.accounts import AccountTarget
from awscompliance.collect import CollectSettings, collect_all
from awscompliance.credential_report import ROOT_USER_NAME, Special, parse_report
from awscompliance.demo import DemoNotRunningError, start_demo
from awscompliance.demo.organization import MEMBER_ACCOUNTS
from awscompliance.evidence import Evidence
from awscompliance.readonly import WriteCallRejected

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
DENIED_ACCOUNT = "legacy-migration"


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
    def iam(self, named: dict[str, AccountTarget]) -> dict[str, Any]:
        """Account name -> IAM client acting in that account, created once for the class."""
        return {name: target.session_factory().client("iam") for name, target in named.items()}

    @pytest.fixture(scope="class")
    def collected(self, targets: list[AccountTarget]) -> list[Evidence]:
        return collect_all(targets, CollectSettings(sleep=lambda seconds: None), workers=8)

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
        for name, client in iam.items():
            if name == DENIED_ACCOUNT:
                continue
            assert credential_report(client).users, name

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
    assert parse_report(report["Content"]).root is None
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
