"""Live collection against moto, and the credential-report retry paths through botocore's Stubber."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from awscompliance.accounts import AccountTarget, default_target
from awscompliance.collect import MIN_BACKOFF, CollectSettings, collect_account, collect_all
from awscompliance.evidence import Account, Evidence
from awscompliance.readonly import new_session

pytestmark = pytest.mark.usefixtures("aws_credentials")

ACCOUNT_ID = "111122223333"
MOTO_ACCOUNT_ID = "123456789012"
GENERATED = datetime(2026, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))

HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,"
    "cert_2_active,cert_2_last_rotated"
)


def report_csv(account_id: str = ACCOUNT_ID) -> bytes:
    root = (
        f"<root_account>,arn:aws:iam::{account_id}:root,2019-03-04T10:15:22+00:00,not_supported,"
        "2025-11-02T08:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,"
        "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
    )
    return f"{HEADER}\n{root}\n".encode()


class FakeTime:
    """A clock that advances only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fake_settings(fake_time: FakeTime, jitter: float = 0.5, **kwargs: Any) -> CollectSettings:
    # Detection evidence has tests of its own; the stubbed sessions here serve only STS and IAM.
    kwargs.setdefault("detection", False)
    return CollectSettings(sleep=fake_time.sleep, clock=fake_time.clock, random=lambda: jitter, **kwargs)


@dataclass
class StubbedSession:
    """Stands in for a boto3 session and returns pre-stubbed clients."""

    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service_name: str, **kwargs: Any) -> Any:
        return self.clients[service_name]


@dataclass
class Stubs:
    sts: Stubber
    iam: Stubber
    target: AccountTarget

    def identity(self, account_id: str = ACCOUNT_ID) -> None:
        self.sts.add_response(
            "get_caller_identity",
            {"UserId": "AIDAEXAMPLE", "Account": account_id, "Arn": f"arn:aws:iam::{account_id}:user/auditor"},
        )

    def generate(self, state: str = "COMPLETE") -> None:
        self.iam.add_response("generate_credential_report", {"State": state})

    def report(self, content: bytes | None = None) -> None:
        self.iam.add_response(
            "get_credential_report",
            {"Content": content or report_csv(), "ReportFormat": "text/csv", "GeneratedTime": GENERATED},
        )

    def summary(self) -> None:
        self.iam.add_response("get_account_summary", {"SummaryMap": {"AccountMFAEnabled": 1}})

    def devices(self, devices: list[dict[str, Any]] | None = None) -> None:
        self.iam.add_response(
            "list_virtual_mfa_devices",
            {"VirtualMFADevices": devices or [], "IsTruncated": False},
            {"AssignmentStatus": "Assigned"},
        )

    def error(self, method: str, code: str, status: int) -> None:
        stubber = self.sts if method == "get_caller_identity" else self.iam
        stubber.add_client_error(method, service_error_code=code, service_message=f"{code} message", http_status_code=status)

    def success(self) -> None:
        """Queue the calls of a collection that succeeds at once."""
        self.identity()
        self.generate()
        self.report()
        self.summary()
        self.devices()


def make_stubs(account: Account) -> Stubs:
    session = new_session(region_name="us-east-1")
    sts = session.client("sts")
    iam = session.client("iam")
    stubbed_session = StubbedSession({"sts": sts, "iam": iam})
    target = AccountTarget(account=account, session_factory=lambda: stubbed_session)
    stubs = Stubs(sts=Stubber(sts), iam=Stubber(iam), target=target)
    stubs.sts.activate()
    stubs.iam.activate()
    return stubs


@pytest.fixture
def stubs() -> Iterator[Stubs]:
    stubs = make_stubs(Account(account_id=None, source="profile audit", name="audit"))
    yield stubs
    stubs.sts.deactivate()
    stubs.iam.deactivate()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


# Collection against moto.


def create_user(iam: Any, user: str) -> None:
    # moto writes not_supported in password_last_used for a user without a password, where AWS
    # writes N/A, and the parser rejects that. A user with a password has AWS's shape.
    iam.create_user(UserName=user)
    iam.create_login_profile(UserName=user, Password="not-a-secret-1A!")


def enable_virtual_device(iam: Any, user: str, device: str) -> str:
    create_user(iam, user)
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=device)["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321")
    return serial


@mock_aws
def test_collect_account_moto(fake_time):
    iam = boto3.client("iam")
    assigned = enable_virtual_device(iam, "alice", "alice-phone")
    iam.create_virtual_mfa_device(VirtualMFADeviceName="spare")

    evidence = collect_account(default_target(), fake_settings(fake_time))

    assert evidence.error is None
    assert evidence.account.account_id == MOTO_ACCOUNT_ID
    assert [row.user for row in evidence.credential_report.users] == ["alice"]
    assert evidence.credential_report.root is None
    assert evidence.report_generated_time == datetime(2015, 2, 2, 20, 2, 2, tzinfo=timezone.utc)
    assert evidence.account_summary["MFADevicesInUse"] == 1
    assert [device.serial_number for device in evidence.virtual_mfa_devices] == [assigned]
    assert evidence.virtual_mfa_devices[0].user_arn == f"arn:aws:iam::{MOTO_ACCOUNT_ID}:user/alice"
    assert evidence.virtual_mfa_devices[0].enable_date.tzinfo == timezone.utc


@mock_aws
def test_collect_account_moto_waits_for_started_report(fake_time):
    create_user(boto3.client("iam"), "alice")

    evidence = collect_account(default_target(), fake_settings(fake_time))

    # moto returns STARTED for the first GenerateCredentialReport and COMPLETE after that.
    assert evidence.error is None
    assert len(fake_time.sleeps) == 1
    assert fake_time.sleeps[0] > 0


@mock_aws
def test_collect_account_moto_alias_as_name(fake_time):
    iam = boto3.client("iam")
    create_user(iam, "alice")
    iam.create_account_alias(AccountAlias="payments-prod")

    evidence = collect_account(default_target(), fake_settings(fake_time))

    assert evidence.account.name == "payments-prod"
    assert evidence.account.label == f"{MOTO_ACCOUNT_ID} (payments-prod)"


@mock_aws
def test_collect_account_moto_paginates_devices(fake_time):
    iam = boto3.client("iam")
    serials = [enable_virtual_device(iam, f"user{number}", f"device{number}") for number in range(5)]
    iam.create_virtual_mfa_device(VirtualMFADeviceName="spare")
    page_sizes: list[int] = []

    def small_pages(params: dict[str, Any], **kwargs: Any) -> None:
        params["MaxItems"] = 2

    def count_page(parsed: dict[str, Any], **kwargs: Any) -> None:
        page_sizes.append(len(parsed["VirtualMFADevices"]))

    def session_factory() -> boto3.Session:
        session = default_target().session_factory()
        session.events.register("before-parameter-build.iam.ListVirtualMFADevices", small_pages)
        session.events.register("after-call.iam.ListVirtualMFADevices", count_page)
        return session

    target = AccountTarget(account=Account(account_id=None, source="default credentials"), session_factory=session_factory)
    evidence = collect_account(target, fake_settings(fake_time))

    assert page_sizes == [2, 2, 1]
    assert sorted(device.serial_number for device in evidence.virtual_mfa_devices) == sorted(serials)


# Credential-report retry paths.


def test_report_complete_at_once(stubs, fake_time):
    stubs.success()

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert evidence.error is None
    assert evidence.account.account_id == ACCOUNT_ID
    assert evidence.account.name == "audit"
    assert evidence.credential_report.root.arn == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert evidence.account_summary == {"AccountMFAEnabled": 1}
    assert evidence.virtual_mfa_devices == []
    assert fake_time.sleeps == []
    stubs.iam.assert_no_pending_responses()


def test_report_generated_time_utc(stubs, fake_time):
    stubs.success()

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert evidence.report_generated_time == datetime(2026, 5, 1, 10, 0, tzinfo=timezone.utc)
    assert evidence.report_generated_time.tzinfo == timezone.utc


def test_report_in_progress_then_ready(stubs, fake_time):
    stubs.identity()
    stubs.generate()
    stubs.error("get_credential_report", "ReportInProgress", 404)
    stubs.report()
    stubs.summary()
    stubs.devices()

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert evidence.error is None
    assert evidence.credential_report is not None
    assert len(fake_time.sleeps) == 1
    assert fake_time.sleeps[0] > 0
    stubs.iam.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["ReportNotPresent", "ReportExpired"])
def test_report_missing_generates_again(stubs, fake_time, code):
    stubs.identity()
    stubs.generate()
    stubs.error("get_credential_report", code, 410)
    stubs.generate()
    stubs.report()
    stubs.summary()
    stubs.devices()

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert evidence.error is None
    assert evidence.credential_report is not None
    stubs.iam.assert_no_pending_responses()


def test_report_started_generates_again(stubs, fake_time):
    stubs.identity()
    stubs.generate("STARTED")
    stubs.generate("INPROGRESS")
    stubs.generate("COMPLETE")
    stubs.report()
    stubs.summary()
    stubs.devices()

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert evidence.error is None
    assert len(fake_time.sleeps) == 2
    stubs.iam.assert_no_pending_responses()


def test_generate_limit_exceeded_then_ready(stubs, fake_time):
    stubs.identity()
    stubs.error("generate_credential_report", "LimitExceeded", 409)
    stubs.generate()
    stubs.report()
    stubs.summary()
    stubs.devices()

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert evidence.error is None
    assert len(fake_time.sleeps) == 1
    stubs.iam.assert_no_pending_responses()


def test_get_throttling_then_ready(stubs, fake_time):
    stubs.identity()
    stubs.generate()
    stubs.error("get_credential_report", "Throttling", 400)
    stubs.report()
    stubs.summary()
    stubs.devices()

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert evidence.error is None
    assert len(fake_time.sleeps) == 1
    stubs.iam.assert_no_pending_responses()


def test_generate_access_denied(stubs, fake_time, caplog):
    stubs.identity()
    stubs.error("generate_credential_report", "AccessDenied", 403)

    with caplog.at_level(logging.WARNING, logger="awscompliance.collect"):
        evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert evidence.credential_report is None
    assert evidence.account.account_id == ACCOUNT_ID
    assert "GenerateCredentialReport failed for account 111122223333 (audit)" in evidence.error
    assert "AccessDenied: AccessDenied message" in evidence.error
    assert "Grant iam:GenerateCredentialReport and iam:GetCredentialReport" in evidence.error
    assert fake_time.sleeps == []
    assert any(ACCOUNT_ID in record.getMessage() for record in caplog.records)


def test_generate_explicit_deny(stubs, fake_time):
    stubs.identity()
    stubs.iam.add_client_error(
        "generate_credential_report",
        "AccessDenied",
        "not authorized to perform: iam:GenerateCredentialReport with an explicit deny in a service control policy",
        403,
    )

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert "Remove the explicit deny of iam:GenerateCredentialReport" in evidence.error
    assert "Grant" not in evidence.error


def test_get_report_other_error(stubs, fake_time):
    stubs.identity()
    stubs.generate()
    stubs.error("get_credential_report", "ServiceFailure", 500)

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert "GetCredentialReport failed" in evidence.error
    assert "ServiceFailure" in evidence.error
    assert "Re-run later" in evidence.error
    assert fake_time.sleeps == []


def test_report_never_ready_times_out(stubs, fake_time):
    stubs.identity()
    for _ in range(100):
        stubs.generate("INPROGRESS")

    evidence = collect_account(stubs.target, fake_settings(fake_time, jitter=0.99, report_timeout=60.0))

    assert "was not ready after" in evidence.error
    assert "report state INPROGRESS" in evidence.error
    assert "--report-timeout" in evidence.error
    assert all(seconds > 0 for seconds in fake_time.sleeps)
    assert max(fake_time.sleeps) <= 15.0
    assert sum(fake_time.sleeps) <= 60.0 + 1e-9


def test_backoff_grows_to_cap(stubs, fake_time):
    stubs.identity()
    for _ in range(100):
        stubs.generate("INPROGRESS")

    collect_account(stubs.target, fake_settings(fake_time, jitter=0.99, report_timeout=100.0))

    expected = [min(15.0, 2**attempt) * 0.99 for attempt in range(6)]
    assert fake_time.sleeps[:6] == pytest.approx(expected)


def test_backoff_zero_jitter_uses_floor(stubs, fake_time):
    stubs.identity()
    for _ in range(100):
        stubs.generate("INPROGRESS")

    evidence = collect_account(stubs.target, fake_settings(fake_time, jitter=0.0, report_timeout=2.0))

    assert evidence.error is not None
    assert len(fake_time.sleeps) > 1
    assert all(seconds == pytest.approx(MIN_BACKOFF) for seconds in fake_time.sleeps)


def test_bad_report_body(stubs, fake_time):
    stubs.identity()
    stubs.generate()
    stubs.report(b"user,arn\nalice,arn:aws:iam::111122223333:user/alice\n")

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert evidence.credential_report is None
    assert "returned a report that cannot be read" in evidence.error
    assert "user_creation_time" in evidence.error


def test_report_of_other_account(stubs, fake_time):
    stubs.identity()
    stubs.generate()
    stubs.report(report_csv("999988887777"))

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert "999988887777" in evidence.error
    assert ACCOUNT_ID in evidence.error


def test_expected_account_differs(fake_time):
    stubs = make_stubs(Account(account_id="444455556666", source="profile audit", name="audit"))
    stubs.identity()

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert "444455556666" in evidence.error
    assert ACCOUNT_ID in evidence.error
    assert evidence.credential_report is None


def test_invalid_credentials(stubs, fake_time):
    stubs.error("get_caller_identity", "InvalidClientTokenId", 403)

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert evidence.account.account_id is None
    assert "GetCallerIdentity failed for profile audit" in evidence.error
    assert "InvalidClientTokenId" in evidence.error
    assert "Renew or fix the credentials of profile audit." in evidence.error


def test_no_credentials(fake_time, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    target = AccountTarget(account=Account(account_id=None, source="default credentials"), session_factory=new_session)

    evidence = collect_account(target, fake_settings(fake_time))

    assert "GetCallerIdentity failed for default credentials: Unable to locate credentials" in evidence.error
    assert "Configure AWS credentials" in evidence.error


def test_account_summary_denied(stubs, fake_time):
    stubs.identity()
    stubs.generate()
    stubs.report()
    stubs.error("get_account_summary", "AccessDenied", 403)
    stubs.devices()

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert evidence.error is None
    assert evidence.credential_report is not None
    assert evidence.account_summary is None
    assert "GetAccountSummary failed" in evidence.account_summary_error
    assert "Grant iam:GetAccountSummary" in evidence.account_summary_error
    assert evidence.virtual_mfa_devices == []


def test_virtual_mfa_devices_denied(stubs, fake_time):
    stubs.identity()
    stubs.generate()
    stubs.report()
    stubs.summary()
    stubs.iam.add_client_error("list_virtual_mfa_devices", "AccessDenied", "denied", 403)

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert evidence.error is None
    assert evidence.virtual_mfa_devices is None
    assert "Grant iam:ListVirtualMFADevices" in evidence.virtual_mfa_devices_error
    assert evidence.account_summary == {"AccountMFAEnabled": 1}


def test_virtual_mfa_device_fields(stubs, fake_time):
    stubs.identity()
    stubs.generate()
    stubs.report()
    stubs.summary()
    stubs.devices(
        [
            {
                "SerialNumber": f"arn:aws:iam::{ACCOUNT_ID}:mfa/any-name",
                "User": {
                    "Path": "/",
                    "UserName": "root",
                    "UserId": "AIDAROOTEXAMPLE0001",
                    "Arn": f"arn:aws:iam::{ACCOUNT_ID}:root",
                    "CreateDate": datetime(2019, 3, 4, tzinfo=timezone.utc),
                },
                "EnableDate": GENERATED,
            },
            {"SerialNumber": f"arn:aws:iam::{ACCOUNT_ID}:mfa/no-user"},
        ]
    )

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    root_device, other = evidence.virtual_mfa_devices
    assert root_device.user_arn == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert root_device.enable_date == datetime(2026, 5, 1, 10, 0, tzinfo=timezone.utc)
    assert other.user_arn is None
    assert other.enable_date is None


def test_alias_failure_not_an_error(fake_time):
    stubs = make_stubs(Account(account_id=None, source="default credentials"))
    stubs.identity()
    stubs.iam.add_client_error("list_account_aliases", "AccessDenied", "denied", 403)
    stubs.generate()
    stubs.report()
    stubs.summary()
    stubs.devices()

    evidence = collect_account(stubs.target, fake_settings(fake_time))

    assert evidence.error is None
    assert evidence.account.name is None
    assert evidence.account.account_id == ACCOUNT_ID


def test_session_factory_botocore_error(fake_time):
    def unknown_profile() -> boto3.Session:
        return new_session(profile_name="missing")

    target = AccountTarget(account=Account(account_id=None, source="profile missing", name="missing"), session_factory=unknown_profile)

    evidence = collect_account(target, fake_settings(fake_time))

    assert "profile missing" in evidence.error
    assert "could not be found" in evidence.error


# Collecting many accounts.


def test_collect_all_isolates_failures(fake_time):
    first = make_stubs(Account(account_id=None, source="profile first", name="first"))
    first.success()
    denied = make_stubs(Account(account_id=None, source="profile denied", name="denied"))
    denied.identity()
    denied.error("generate_credential_report", "AccessDenied", 403)
    last = make_stubs(Account(account_id=None, source="profile last", name="last"))
    last.success()

    def broken_factory() -> boto3.Session:
        raise RuntimeError("boom")

    broken = AccountTarget(account=Account(account_id=None, source="profile broken", name="broken"), session_factory=broken_factory)
    targets = [first.target, broken, denied.target, last.target]
    progress: list[tuple[int, int, int]] = []

    results = collect_all(targets, fake_settings(fake_time), workers=4, progress=lambda *call: progress.append(call))

    assert [evidence.account.source for evidence in results] == ["profile first", "profile broken", "profile denied", "profile last"]
    assert [evidence.error is None for evidence in results] == [True, False, False, True]
    assert results[1].error.startswith("internal error: RuntimeError: boom")
    assert "iam:GenerateCredentialReport" in results[2].error
    assert [done for done, _, _ in progress] == [1, 2, 3, 4]
    assert {total for _, total, _ in progress} == {4}
    assert progress[-1][2] == 2


def test_collect_all_logs_internal_error(fake_time, caplog):
    def broken_factory() -> boto3.Session:
        raise RuntimeError("boom")

    broken = AccountTarget(account=Account(account_id=None, source="profile broken"), session_factory=broken_factory)

    with caplog.at_level(logging.ERROR, logger="awscompliance.collect"):
        collect_all([broken], fake_settings(fake_time))

    assert [record.exc_info is not None for record in caplog.records] == [True]


def test_collect_all_empty():
    assert collect_all([]) == []


def test_collect_all_rejects_zero_workers(stubs):
    with pytest.raises(ValueError) as raised:
        collect_all([stubs.target], workers=0)

    assert "workers must be at least 1, got 0" in str(raised.value)


def test_collect_all_returns_evidence(stubs, fake_time):
    stubs.success()

    results = collect_all([stubs.target], fake_settings(fake_time))

    assert len(results) == 1
    assert isinstance(results[0], Evidence)
    assert results[0].error is None
