"""Organization discovery and per-account fault isolation, against a moto organization of 25 accounts.

Faults are injected at botocore's `before-send` event, as raw HTTP responses or connection errors,
so that botocore's own retries, response parsing and error classes run as they would against AWS.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from botocore.parsers import ResponseParserError
from moto import mock_aws

from awscompliance.accounts import AccountTarget, default_target
from awscompliance.catalog import CONTROLS
from awscompliance.collect import CollectSettings, collect_all
from awscompliance.demo import moto_root
from awscompliance.evidence import AuditSettings, Status
from awscompliance.organization import MANAGEMENT, MEMBER, DiscoveryError, RoleOptions, discover_organization
from awscompliance.sources import AccountFilter, _filtered_targets

pytestmark = pytest.mark.usefixtures("aws_credentials")

MEMBER_COUNT = 24
AS_OF = datetime(2026, 6, 1, tzinfo=timezone.utc)
# OU tree: Workloads/{Prod, Dev/Experiments}, Security, Sandbox.
OU_LAYOUT = {
    "Workloads": (),
    "Prod": ("Workloads",),
    "Dev": ("Workloads",),
    "Experiments": ("Workloads", "Dev"),
    "Security": (),
    "Sandbox": (),
}
PLACEMENT = ["Prod", "Dev", "Experiments", "Security", "Sandbox", None]


@dataclass
class Organization:
    management_id: str
    # Account id -> OU names from the root down, for each member.
    member_paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # OU name -> OU id.
    ou_ids: dict[str, str] = field(default_factory=dict)
    suspended_id: str | None = None


@pytest.fixture
def organization() -> Iterator[Organization]:
    with mock_aws(), moto_root.root_user_adaptation():
        yield _build_organization()


def _build_organization() -> Organization:
    organizations = boto3.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    root_id = organizations.list_roots()["Roots"][0]["Id"]
    management_id = boto3.client("sts").get_caller_identity()["Account"]
    result = Organization(management_id=management_id)
    _seed_root(boto3.client("iam"), mfa=True)

    for name, parents in OU_LAYOUT.items():
        parent_id = result.ou_ids[parents[-1]] if parents else root_id
        result.ou_ids[name] = organizations.create_organizational_unit(ParentId=parent_id, Name=name)[
            "OrganizationalUnit"
        ]["Id"]

    for index in range(MEMBER_COUNT):
        created = organizations.create_account(AccountName=f"member-{index:02d}", Email=f"m{index}@example.com")
        account_id = created["CreateAccountStatus"]["AccountId"]
        ou_name = PLACEMENT[index % len(PLACEMENT)]
        if ou_name is not None:
            organizations.move_account(AccountId=account_id, SourceParentId=root_id, DestinationParentId=result.ou_ids[ou_name])
        result.member_paths[account_id] = (*OU_LAYOUT[ou_name], ou_name) if ou_name else ()
        # Every third member's root has no MFA, so verdicts differ between accounts.
        _seed_root(_member_client(account_id, "iam"), mfa=index % 3 != 0)

    closed = organizations.create_account(AccountName="closed", Email="closed@example.com")
    result.suspended_id = closed["CreateAccountStatus"]["AccountId"]
    organizations.close_account(AccountId=result.suspended_id)
    return result


def _member_client(account_id: str, service: str):
    credentials = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="seed"
    )["Credentials"]
    return boto3.client(
        service,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _seed_root(iam, mfa: bool) -> None:
    iam.create_user(UserName="<root_account>")
    iam.create_login_profile(UserName="<root_account>", Password="not-a-secret-1A!")
    if mfa:
        codes = {"AuthenticationCode1": "123456", "AuthenticationCode2": "654321"}
        iam.enable_mfa_device(UserName="<root_account>", SerialNumber="GAHT00000001", **codes)


def expected_mfa_status(account_id: str, organization: Organization) -> str:
    """Return the root-mfa status the seeding gives: every third member's root has no MFA."""
    if account_id == organization.management_id:
        return "pass"
    name = boto3.client("organizations").describe_account(AccountId=account_id)["Account"]["Name"]
    return "fail" if int(name.removeprefix("member-")) % 3 == 0 else "pass"


# --- discovery ----------------------------------------------------------------------------


def test_discovers_every_active_account(organization):
    targets = discover_organization(default_target().session_factory)
    ids = [target.account.account_id for target in targets]

    assert len(targets) == MEMBER_COUNT + 1
    assert ids == sorted(ids)
    assert organization.management_id in ids
    assert organization.suspended_id not in ids


def test_management_uses_calling_credentials(organization):
    factory = default_target().session_factory
    targets = {target.account.account_id: target for target in discover_organization(factory)}
    management = targets[organization.management_id]

    assert management.account.organization_role == MANAGEMENT
    assert management.session_factory is factory
    assert {target.account.organization_role for target in targets.values()} == {MANAGEMENT, MEMBER}


def test_members_reached_through_role(organization):
    targets = discover_organization(default_target().session_factory)
    member = next(target for target in targets if target.account.organization_role == MEMBER)
    identity = member.session_factory().client("sts").get_caller_identity()

    assert identity["Account"] == member.account.account_id
    assert ":assumed-role/OrganizationAccountAccessRole/" in identity["Arn"]


def test_nested_ou_paths(organization):
    targets = {target.account.account_id: target for target in discover_organization(default_target().session_factory)}
    id_by_name = organization.ou_ids

    for account_id, names in organization.member_paths.items():
        expected = tuple(id_by_name[name] for name in names)
        assert targets[account_id].account.ou_path == expected, account_id
    assert targets[organization.management_id].account.ou_path == ()


def test_account_names_from_organization(organization):
    targets = discover_organization(default_target().session_factory)
    names = {target.account.name for target in targets}

    assert {f"member-{index:02d}" for index in range(MEMBER_COUNT)} <= names


def test_not_in_organization_raises():
    with mock_aws():
        with pytest.raises(DiscoveryError, match="not in an AWS Organization"):
            discover_organization(default_target().session_factory)


@pytest.mark.parametrize("operation", ["ListAccounts", "ListAccountsForParent", "ListOrganizationalUnitsForParent"])
def test_denied_listing_stops_discovery(organization, operation):
    def management_factory():
        return install_faults(default_target().session_factory(), {operation: always("AccessDeniedException", 400)})

    with pytest.raises(DiscoveryError) as raised:
        discover_organization(management_factory)

    assert f"organizations:{operation}" in str(raised.value)
    assert "AccessDeniedException" in str(raised.value)


def test_custom_role_name_used(organization):
    targets = discover_organization(default_target().session_factory, RoleOptions(role_name="AuditRole"))
    member = next(target for target in targets if target.account.organization_role == MEMBER)
    identity = member.session_factory().client("sts").get_caller_identity()

    assert ":assumed-role/AuditRole/" in identity["Arn"]


# --- filters ------------------------------------------------------------------------------


def test_filter_by_ou_keeps_nested_accounts(organization):
    targets = discover_organization(default_target().session_factory)
    workloads = organization.ou_ids["Workloads"]
    kept = _filtered_targets(targets, AccountFilter(ou=workloads))
    expected = {account_id for account_id, names in organization.member_paths.items() if names[:1] == ("Workloads",)}

    assert {target.account.account_id for target in kept} == expected
    assert len(expected) == 12


def test_filter_include_and_exclude(organization):
    targets = discover_organization(default_target().session_factory)
    ids = [target.account.account_id for target in targets]
    kept = _filtered_targets(targets, AccountFilter(include=frozenset(ids[:5]), exclude=frozenset(ids[:1])))

    assert [target.account.account_id for target in kept] == ids[1:5]


def test_filter_keeps_unknown_ids():
    assert AccountFilter(include=frozenset({"111111111111"})).keeps(None) is True


# --- faults, per account --------------------------------------------------------------------


class _RawBody:
    """The `raw` object botocore reads an HTTP response body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs) -> Iterator[bytes]:
        yield self._body


def error_response(request, code: str, status: int, message: str = "injected") -> AWSResponse:
    body = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>test</RequestId></ErrorResponse>"
    ).encode()
    return AWSResponse(request.url, status, {}, _RawBody(body))


Fault = Callable[..., AWSResponse | None]


def install_faults(session: boto3.Session, faults: dict[str, Fault]) -> boto3.Session:
    """Make the session's clients return injected faults for the named operations."""

    def inject(request, event_name, **kwargs):
        operation = event_name.rsplit(".", 1)[-1]
        fault = faults.get(operation)
        return fault(request) if fault else None

    session.events.register_first("before-send.*.*", inject)
    return session


def with_faults(target: AccountTarget, faults: dict[str, Fault]) -> AccountTarget:
    """Make the target's clients return injected faults for the named operations."""
    original = target.session_factory
    return AccountTarget(target.account, lambda: _FaultySession(original(), faults))


class _FaultySession:
    """An account's session whose requests get that account's injected faults.

    Members' sessions share their clients with the other accounts collected on the same thread,
    so the faults are chosen by the access key that signed each request.
    """

    faults_by_key: dict[str, dict[str, Fault]] = {}

    def __init__(self, session: Any, faults: dict[str, Fault]) -> None:
        self._session = session
        self.region_name = session.region_name
        self.faults_by_key[session.get_credentials().access_key] = faults

    def client(self, service_name: str, region_name: str | None = None) -> Any:
        client = self._session.client(service_name, region_name=region_name)
        client.meta.events.register_first("before-send.*.*", self._inject, unique_id="unit-test-faults")
        return client

    @classmethod
    def _inject(cls, request, event_name, **kwargs):
        fault = cls.faults_by_key.get(signing_access_key(request), {}).get(event_name.rsplit(".", 1)[-1])
        return fault(request) if fault else None


def signing_access_key(request) -> str:
    """Return the access key that signed a request, from its SigV4 Authorization header."""
    # "AWS4-HMAC-SHA256 Credential=<access key>/<date>/<region>/<service>/aws4_request, ..."
    authorization = request.headers["Authorization"]
    authorization = authorization.decode() if isinstance(authorization, bytes) else authorization
    return authorization.split("Credential=", 1)[1].split("/", 1)[0]


def always(code: str, status: int, message: str = "injected") -> Fault:
    return lambda request: error_response(request, code, status, message)


def first(times: int, code: str, status: int) -> Fault:
    remaining = [times]

    def fault(request):
        if remaining[0] > 0:
            remaining[0] -= 1
            return error_response(request, code, status, "Rate exceeded")
        return None

    return fault


def timeout(request):
    raise ReadTimeoutError(endpoint_url=request.url)


@dataclass
class FakeTime:
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def no_real_sleep(monkeypatch):
    """Skip botocore's retry sleeps, which call time.sleep, so retries cost no wall time."""
    slept = []
    monkeypatch.setattr("time.sleep", slept.append)
    return slept


def audit(targets, fake_time: FakeTime):
    settings = CollectSettings(report_timeout=60, sleep=fake_time.sleep, clock=lambda: fake_time.now)
    evidence = collect_all(targets, settings, workers=8)
    return {item.account_id: item for item in evidence}


def assume_role_denied_for(account_id: str) -> Fault:
    def fault(request):
        body = urllib.parse.unquote(request.body.decode() if isinstance(request.body, bytes) else request.body or "")
        if f"::{account_id}:role/" in body:
            return error_response(request, "AccessDenied", 403, f"not authorized to perform: sts:AssumeRole on {account_id}")
        return None

    return fault


def test_faults_isolated_to_their_accounts(organization, no_real_sleep):
    members = sorted(organization.member_paths)
    denied_role, denied_report, limit, stuck, expired, network = members[:6]
    throttled = members[6:9]

    def management_factory():
        return install_faults(default_target().session_factory(), {"AssumeRole": assume_role_denied_for(denied_role)})

    targets = discover_organization(management_factory)
    faults = {
        denied_report: {"GenerateCredentialReport": always("AccessDenied", 403, "not authorized to perform: iam:GenerateCredentialReport")},
        limit: {"GenerateCredentialReport": always("LimitExceeded", 409)},
        stuck: {"GetCredentialReport": always("ReportInProgress", 404)},
        expired: {"GetCredentialReport": always("ExpiredToken", 403, "The security token included in the request is expired")},
        network: {"GetCredentialReport": timeout},
        # Bursts shorter than botocore's retry budget (8 retries) must be absorbed.
        **{account_id: {"GetCredentialReport": first(3, "Throttling", 400), "GetAccountSummary": first(2, "Throttling", 400)} for account_id in throttled},
    }
    targets = [with_faults(target, faults.get(target.account.account_id, {})) for target in targets]

    evidence = audit(targets, FakeTime())

    failing = {denied_role, denied_report, limit, stuck, expired, network}
    assert {account_id for account_id, item in evidence.items() if item.error} == failing
    assert "AssumeRole" in evidence[denied_role].error
    assert "AccessDenied" in evidence[denied_role].error
    assert "Grant iam:GenerateCredentialReport and iam:GetCredentialReport to the role assumed in account" in evidence[denied_report].error
    assert "not ready after" in evidence[limit].error
    assert "LimitExceeded" in evidence[limit].error
    assert "not ready after" in evidence[stuck].error
    assert "ReportInProgress" in evidence[stuck].error
    assert "Re-run, which assumes the role again" in evidence[expired].error
    assert "timeout" in evidence[network].error.lower()
    for account_id in throttled:
        assert evidence[account_id].error is None
        assert evidence[account_id].account_summary is not None
    assert len(evidence) == MEMBER_COUNT + 1


def test_faulty_accounts_error_others_judged(organization, no_real_sleep):
    members = sorted(organization.member_paths)
    broken = members[0]
    targets = discover_organization(default_target().session_factory)
    targets = [
        with_faults(target, {"GenerateCredentialReport": always("AccessDenied", 403)})
        if target.account.account_id == broken
        else target
        for target in targets
    ]
    evidence = audit(targets, FakeTime())
    settings = AuditSettings(as_of=AS_OF)

    for account_id, item in evidence.items():
        verdict = CONTROLS["root-mfa"].evaluate(item, settings)
        if account_id == broken:
            assert verdict.status is Status.ERROR
        else:
            assert verdict.status.value == expected_mfa_status(account_id, organization), account_id


def test_report_wait_bounded(organization, no_real_sleep):
    fake_time = FakeTime()
    targets = discover_organization(default_target().session_factory)
    targets = [with_faults(target, {"GetCredentialReport": always("ReportInProgress", 404)}) for target in targets[:3]]

    evidence = audit(targets, fake_time)

    assert all(item.error and "not ready after" in item.error for item in evidence.values())
    assert all(0 < seconds <= 15 for seconds in fake_time.sleeps)


# --- the --org option, end to end ---------------------------------------------------------


def test_org_option_end_to_end(organization, pytester, tmp_path):
    project = Path(__file__).resolve().parents[1]
    findings = tmp_path / "findings.json"
    excluded = sorted(organization.member_paths)[0]
    result = pytester.runpytest_inprocess(
        str(project / "tests_compliance"),
        "-c",
        str(project / "pytest.ini"),
        "--rootdir",
        str(project),
        "-p",
        "no:cacheprovider",
        "--org",
        "--exclude-accounts",
        excluded,
        "--as-of",
        "2026-06-01T00:00:00Z",
        "--findings-json",
        str(findings),
        "--html",
        str(tmp_path / "report.html"),
    )
    document = json.loads(findings.read_text(encoding="utf-8"))
    audited = {account["account_id"] for account in document["accounts"]}

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert len(audited) == MEMBER_COUNT
    assert excluded not in audited
    assert organization.management_id in audited
    assert len(document["findings"]) == MEMBER_COUNT * len(CONTROLS)
    roles = {account["account_id"]: account["organization_role"] for account in document["accounts"]}
    assert roles[organization.management_id] == "management"


def test_ou_option_needs_org(pytester, tmp_path):
    project = Path(__file__).resolve().parents[1]
    result = pytester.runpytest_inprocess(
        str(project / "tests_compliance"),
        "-c",
        str(project / "pytest.ini"),
        "--rootdir",
        str(project),
        "-p",
        "no:cacheprovider",
        "--ou",
        "ou-ab12-cd34ef56",
        "--findings-json",
        str(tmp_path / "findings.json"),
    )

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--ou needs --org" in result.stderr.str()


def test_unreadable_error_body_is_account_error(organization, no_real_sleep):
    def unreadable(request):
        raise ResponseParserError("Unable to parse response: <html>502 Bad Gateway</html>")

    broken = sorted(organization.member_paths)[0]
    targets = discover_organization(default_target().session_factory)
    targets = [
        with_faults(target, {"GetCredentialReport": unreadable}) if target.account.account_id == broken else target
        for target in targets
    ]

    evidence = audit(targets, FakeTime())

    assert "Unable to parse response" in evidence[broken].error
    assert "internal error" not in evidence[broken].error
    assert sum(1 for item in evidence.values() if item.error) == 1
