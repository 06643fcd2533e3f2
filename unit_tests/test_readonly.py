"""The read-only guard: write calls never leave the process, and every allowed read still works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import xform_name
from botocore.stub import Stubber
from moto import mock_aws

from awscompliance import readonly
from awscompliance.readonly import (
    ALLOWED_OPERATIONS,
    CREDENTIAL_PROVIDER_OPERATIONS,
    WriteCallRejected,
    install_guard,
    new_session,
)

pytestmark = pytest.mark.usefixtures("aws_credentials")

WRITE_PREFIXES = (
    "Create",
    "Delete",
    "Put",
    "Update",
    "Attach",
    "Detach",
    "Enable",
    "Disable",
    "Tag",
    "Untag",
    "Set",
    "Upload",
    "Change",
    "Reset",
    "Add",
    "Remove",
    "Register",
    "Deregister",
    "Invite",
    "Accept",
    "Decline",
    "Leave",
    "Move",
    "Cancel",
    "Start",
    "Stop",
)


def test_allow_list_has_no_write_operation():
    writes = sorted(
        operation
        for _, operation in ALLOWED_OPERATIONS
        if operation.startswith(WRITE_PREFIXES) and operation != "GenerateCredentialReport"
    )
    assert writes == []


def test_allow_list_names_real_operations():
    session = botocore.session.get_session()
    for service, operation in ALLOWED_OPERATIONS | CREDENTIAL_PROVIDER_OPERATIONS:
        assert operation in session.get_service_model(service).operation_names, (service, operation)


def test_credential_provider_operations_stay_in_credential_services():
    services = {service for service, _ in CREDENTIAL_PROVIDER_OPERATIONS}
    assert services <= {"sts", "sso", "sso-oidc", "signin"}


@mock_aws
def test_guard_rejects_create_user():
    guarded = new_session().client("iam")

    with pytest.raises(WriteCallRejected) as raised:
        guarded.create_user(UserName="intruder")

    assert "iam:CreateUser" in str(raised.value)
    assert "only reads" in str(raised.value)
    assert boto3.client("iam").list_users()["Users"] == []


@mock_aws
def test_guard_rejects_delete_access_key():
    iam = boto3.client("iam")
    iam.create_user(UserName="alice")
    key_id = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    guarded = new_session().client("iam")

    with pytest.raises(WriteCallRejected) as raised:
        guarded.delete_access_key(UserName="alice", AccessKeyId=key_id)

    assert raised.value.service == "iam"
    assert raised.value.operation == "DeleteAccessKey"
    keys = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert [key["AccessKeyId"] for key in keys] == [key_id]


@mock_aws
def test_guard_rejects_other_services():
    guarded = new_session().client("s3")

    with pytest.raises(WriteCallRejected):
        guarded.create_bucket(Bucket="not-allowed")

    assert boto3.client("s3").list_buckets()["Buckets"] == []


@mock_aws
def test_install_guard_twice_registers_once():
    session = boto3.Session()
    assert install_guard(session) is session
    install_guard(session)

    # One unregister removes the only registration, so a write then reaches moto.
    session.events.unregister("before-call.*.*", unique_id=readonly._GUARD_ID)
    session.client("iam").create_user(UserName="allowed-after-unregister")

    assert len(boto3.client("iam").list_users()["Users"]) == 1


def test_guard_runs_before_stubber():
    client = new_session().client("iam")
    stubber = Stubber(client)
    stubber.add_response("delete_user", {}, {"UserName": "alice"})

    with stubber, pytest.raises(WriteCallRejected):
        client.delete_user(UserName="alice")


@pytest.fixture
def organization() -> Iterator[dict[str, str]]:
    """Mock AWS and set up, without the guard, what the allowed reads need: an organization and a report."""
    with mock_aws():
        yield _create_organization() | _create_detection_resources()


def _create_organization() -> dict[str, str]:
    organizations = boto3.client("organizations")
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]
    root_id = organizations.list_roots()["Roots"][0]["Id"]
    unit_id = organizations.create_organizational_unit(ParentId=root_id, Name="security")["OrganizationalUnit"]["Id"]
    boto3.client("iam").generate_credential_report()
    return {"account_id": organization["MasterAccountId"], "root_id": root_id, "unit_id": unit_id}


def _create_detection_resources() -> dict[str, str]:
    """Create what the detection reads need: a trail, a GuardDuty detector and an SNS topic."""
    boto3.client("s3").create_bucket(Bucket="readonly-trail-logs")
    trail = boto3.client("cloudtrail").create_trail(Name="readonly-trail", S3BucketName="readonly-trail-logs")
    detector_id = boto3.client("guardduty").create_detector(Enable=True)["DetectorId"]
    topic_arn = boto3.client("sns").create_topic(Name="readonly-alerts")["TopicArn"]
    return {"trail_arn": trail["TrailARN"], "detector_id": detector_id, "topic_arn": topic_arn}


def _read_requests(ids: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Return the parameters of each allowed read that moto implements."""
    return {
        ("sts", "GetCallerIdentity"): {},
        ("sts", "AssumeRole"): {"RoleArn": f"arn:aws:iam::{ids['account_id']}:role/auditor", "RoleSessionName": "audit"},
        ("iam", "GenerateCredentialReport"): {},
        ("iam", "GetCredentialReport"): {},
        ("iam", "GetAccountSummary"): {},
        ("iam", "ListVirtualMFADevices"): {"AssignmentStatus": "Assigned"},
        ("iam", "ListAccountAliases"): {},
        ("organizations", "DescribeOrganization"): {},
        ("organizations", "ListAccounts"): {},
        ("organizations", "ListAccountsForParent"): {"ParentId": ids["root_id"]},
        ("organizations", "ListRoots"): {},
        ("organizations", "ListParents"): {"ChildId": ids["account_id"]},
        ("organizations", "ListChildren"): {"ParentId": ids["root_id"], "ChildType": "ACCOUNT"},
        ("organizations", "ListOrganizationalUnitsForParent"): {"ParentId": ids["root_id"]},
        ("organizations", "DescribeOrganizationalUnit"): {"OrganizationalUnitId": ids["unit_id"]},
        ("organizations", "ListPoliciesForTarget"): {"TargetId": ids["root_id"], "Filter": "SERVICE_CONTROL_POLICY"},
        ("organizations", "DescribePolicy"): {"PolicyId": "p-FullAWSAccess"},
        ("cloudtrail", "DescribeTrails"): {"includeShadowTrails": True},
        ("cloudtrail", "GetTrailStatus"): {"Name": ids["trail_arn"]},
        ("cloudtrail", "GetEventSelectors"): {"TrailName": ids["trail_arn"]},
        ("logs", "DescribeMetricFilters"): {},
        ("cloudwatch", "DescribeAlarms"): {"AlarmTypes": ["MetricAlarm"]},
        ("sns", "ListSubscriptionsByTopic"): {"TopicArn": ids["topic_arn"]},
        ("guardduty", "ListDetectors"): {},
        ("guardduty", "GetDetector"): {"DetectorId": ids["detector_id"]},
        ("config", "DescribeConfigRules"): {},
    }


# moto 5.2.1 does not implement ListOrganizationsFeatures, so its test uses a Stubber.
STUBBED_READS = {("iam", "ListOrganizationsFeatures")}


def test_allowed_reads_pass_guard(organization):
    requests = _read_requests(organization)
    session = new_session()

    for (service, operation), params in requests.items():
        response = getattr(session.client(service), xform_name(operation))(**params)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200, operation

    assert set(requests) | STUBBED_READS == ALLOWED_OPERATIONS


def test_list_organizations_features_passes_guard():
    client = new_session().client("iam")
    stubber = Stubber(client)
    stubber.add_response(
        "list_organizations_features",
        {"OrganizationId": "o-a1b2c3d4e5", "EnabledFeatures": ["RootCredentialsManagement"]},
    )

    with stubber:
        response = client.list_organizations_features()

    assert response["EnabledFeatures"] == ["RootCredentialsManagement"]


@mock_aws
def test_web_identity_profile_passes_guard(aws_credentials: Path):
    token_file = aws_credentials.with_name("token")
    token_file.write_text("fake-oidc-token")
    aws_credentials.write_text(
        "[profile workload]\n"
        "role_arn = arn:aws:iam::123456789012:role/auditor\n"
        f"web_identity_token_file = {token_file}\n"
    )

    identity = new_session(profile_name="workload").client("sts").get_caller_identity()

    assert identity["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/auditor/")
