"""The README's IAM policy grants exactly the calls the suite makes, all on the read-only allow-list."""

import json
import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from awscompliance.accounts import default_target
from awscompliance.collect import collect_account
from awscompliance.readonly import ALLOWED_OPERATIONS

README = Path(__file__).resolve().parents[1] / "README.md"
# GetCallerIdentity works without any permission, so a policy need not grant it.
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}


def readme_policy_actions():
    blocks = re.findall(r"```json\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    policies = [json.loads(block) for block in blocks if '"Statement"' in block]
    assert len(policies) == 1, "the README should contain exactly one IAM policy document"
    actions = set()
    for statement in policies[0]["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] == "*"
        actions.update(statement["Action"])
    return actions


def record_calls(session):
    calls = set()

    def remember(model, **kwargs):
        prefix = model.service_model.signing_name
        calls.add(f"{prefix}:{model.name}")

    session.events.register("before-call.*.*", remember)
    return session, calls


@pytest.mark.usefixtures("aws_credentials")
def test_policy_matches_calls_made():
    target = default_target()
    recorded = set()

    def factory():
        session, calls = record_calls(target.session_factory())
        recorded_sessions.append(calls)
        return session

    recorded_sessions = []
    with mock_aws():
        boto3.client("iam").create_user(UserName="alice")
        evidence = collect_account(type(target)(target.account, factory))
    for calls in recorded_sessions:
        recorded |= calls

    assert evidence.error is None
    assert recorded - NEEDS_NO_PERMISSION == readme_policy_actions()


def test_policy_actions_on_allow_list():
    allowed = {f"{service}:{operation}" for service, operation in ALLOWED_OPERATIONS}

    assert readme_policy_actions() <= allowed


def test_policy_grants_no_write():
    for action in readme_policy_actions():
        operation = action.split(":", 1)[1]
        assert operation.startswith(("Get", "List", "Describe")) or action == "iam:GenerateCredentialReport", action
