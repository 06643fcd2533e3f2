"""RoleSessions: assumed-role sessions that share one thread's clients across accounts.

A request must always be signed with the keys of the account whose session made the client, so
these tests check the identity that STS returns, and that a client of a replaced session rejects calls.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from moto import mock_aws

from awscompliance.accounts import RoleSessions, StaleSessionError
from awscompliance.readonly import WriteCallRejected
from unit_tests.test_organization import error_response, signing_access_key

pytestmark = [pytest.mark.usefixtures("aws_credentials"), pytest.mark.filterwarnings("error")]

REGION = "us-east-1"
ACCOUNTS = [f"{number:012d}" for number in range(111111111111, 111111111111 + 12)]


def assumed(account_id: str) -> dict[str, Any]:
    """Credentials of a role in `account_id`, from moto's STS."""
    return boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/audit", RoleSessionName="unit-test"
    )["Credentials"]


def caller(session: Any) -> str:
    return session.client("sts").get_caller_identity()["Account"]


@mock_aws
def test_each_session_acts_in_its_account():
    sessions = RoleSessions()

    for account_id in ACCOUNTS[:4]:
        assert caller(sessions.session(assumed(account_id), REGION)) == account_id


@mock_aws
def test_clients_created_once_per_thread(monkeypatch):
    created: list[str] = []
    original = botocore.session.Session.create_client

    def counting(self, service_name, *args, **kwargs):
        created.append(service_name)
        return original(self, service_name, *args, **kwargs)

    credentials = [assumed(account_id) for account_id in ACCOUNTS[:5]]
    monkeypatch.setattr(botocore.session.Session, "create_client", counting)
    sessions = RoleSessions()

    for keys in credentials:
        session = sessions.session(keys, REGION)
        session.client("sts").get_caller_identity()
        session.client("iam").get_account_summary()
        session.client("iam", region_name="eu-west-1")

    assert sorted(created) == ["iam", "iam", "sts"]


@mock_aws
def test_replaced_session_rejects_calls():
    sessions = RoleSessions()
    first = sessions.session(assumed(ACCOUNTS[0]), REGION)
    first_sts = first.client("sts")
    second = sessions.session(assumed(ACCOUNTS[1]), REGION)

    with pytest.raises(StaleSessionError):
        first_sts.get_caller_identity()
    with pytest.raises(StaleSessionError):
        first.client("iam")
    assert caller(second) == ACCOUNTS[1]


@mock_aws
def test_session_rejected_on_other_thread():
    session = RoleSessions().session(assumed(ACCOUNTS[0]), REGION)
    client = session.client("sts")

    with ThreadPoolExecutor(max_workers=1) as pool:
        with pytest.raises(StaleSessionError):
            pool.submit(client.get_caller_identity).result()


@mock_aws
def test_separate_instances_keep_separate_clients():
    # Two discoveries (two RoleSessions) on one thread must not replace each other's sessions.
    first = RoleSessions().session(assumed(ACCOUNTS[0]), REGION)
    second = RoleSessions().session(assumed(ACCOUNTS[1]), REGION)

    assert caller(first) == ACCOUNTS[0]
    assert caller(second) == ACCOUNTS[1]


@mock_aws
def test_threads_sign_with_their_own_accounts():
    credentials = {account_id: assumed(account_id) for account_id in ACCOUNTS}
    sessions = RoleSessions()
    barrier = threading.Barrier(4)

    def collect(account_ids: list[str]) -> list[tuple[str, str]]:
        seen = []
        barrier.wait()
        for account_id in account_ids:
            session = sessions.session(credentials[account_id], REGION)
            seen.append((account_id, caller(session)))
            session.client("iam").get_account_summary()
            seen.append((account_id, caller(session)))
        return seen

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(collect, [ACCOUNTS[index::4] for index in range(4)]))

    pairs = [pair for result in results for pair in result]
    assert len(pairs) == 2 * len(ACCOUNTS)
    assert all(expected == seen for expected, seen in pairs)


@mock_aws
def test_pooled_clients_guarded():
    iam = RoleSessions().session(assumed(ACCOUNTS[0]), REGION).client("iam")

    with pytest.raises(WriteCallRejected):
        iam.create_user(UserName="intruder")


@mock_aws
def test_pooled_clients_use_client_config():
    client = RoleSessions().session(assumed(ACCOUNTS[0]), REGION).client("iam")

    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 9}
    assert client.meta.config.read_timeout == 20


@mock_aws
def test_session_exposes_its_account_keys():
    keys = assumed(ACCOUNTS[0])
    session = RoleSessions().session(keys, "eu-west-1")

    assert session.region_name == "eu-west-1"
    assert session.get_credentials().access_key == keys["AccessKeyId"]
    assert session.get_credentials().token == keys["SessionToken"]


def throttle_requests_of(access_key: str, times: int | None) -> Any:
    """Return a before-send handler that throttles `access_key`'s requests, `times` times or always."""
    remaining = [times]

    def handler(request: Any, **kwargs: Any) -> AWSResponse | None:
        if signing_access_key(request) != access_key or remaining[0] == 0:
            return None
        if remaining[0] is not None:
            remaining[0] -= 1
        return error_response(request, "Throttling", 400, "Rate exceeded")

    return handler


@mock_aws
def test_throttling_spares_next_account_retries(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    sessions = RoleSessions()
    first_keys, second_keys = assumed(ACCOUNTS[0]), assumed(ACCOUNTS[1])
    first = sessions.session(first_keys, REGION)
    iam = first.client("iam")
    iam.meta.events.register_first("before-send.iam.GetAccountSummary", throttle_requests_of(first_keys["AccessKeyId"], None))
    iam.meta.events.register_first("before-send.iam.GetAccountSummary", throttle_requests_of(second_keys["AccessKeyId"], 1))
    # Each call is retried until botocore's retry quota (500 units, 5 per throttled retry) is empty.
    for _ in range(15):
        with pytest.raises(ClientError):
            iam.get_account_summary()

    second = sessions.session(second_keys, REGION)

    assert second.client("iam").get_account_summary()["SummaryMap"]


@mock_aws
def test_unknown_retry_layout_gets_new_client(monkeypatch):
    monkeypatch.setattr("awscompliance.accounts._refill_retry_quota", lambda client: False)
    sessions = RoleSessions()
    first = sessions.session(assumed(ACCOUNTS[0]), REGION).client("iam")._client
    second_session = sessions.session(assumed(ACCOUNTS[1]), REGION)

    assert second_session.client("iam")._client is not first
    assert caller(second_session) == ACCOUNTS[1]
