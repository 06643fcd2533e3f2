"""The README's IAM policies grant exactly the calls the suite makes, all on the read-only allow-list."""

import json
import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from awscompliance.accounts import AccountTarget, default_target
from awscompliance.collect import collect_account
from awscompliance.demo import moto_root
from awscompliance.organization import MEMBER, discover_organization
from awscompliance.readonly import ALLOWED_OPERATIONS
from unit_tests.test_detection import build_chain

README = Path(__file__).resolve().parents[1] / "README.md"
# GetCallerIdentity works without any permission, so a policy need not grant it.
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}
IAM_PREFIXES = {"monitoring": "cloudwatch"}


def readme_policies():
    """Return (member policy actions, management policy actions) from the README's JSON blocks."""
    blocks = re.findall(r"```json\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    policies = [json.loads(block) for block in blocks if '"Statement"' in block]
    assert len(policies) == 2, "the README should contain the member and the management policy"
    return [_actions(policy) for policy in policies]


def _actions(policy):
    actions = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def create_detection_setup():
    # Every detection call is made only when there is something to read: a trail with its
    # chain, a GuardDuty detector and a Config rule.
    build_chain()
    boto3.client("guardduty").create_detector(Enable=True)
    boto3.client("config").put_config_rule(
        ConfigRule={"ConfigRuleName": "root-mfa", "Source": {"Owner": "AWS", "SourceIdentifier": "ROOT_ACCOUNT_MFA_ENABLED"}}
    )


def create_user_with_password(name):
    # moto writes not_supported in password_last_used for a user without a password, where AWS
    # writes N/A, and the parser rejects it. A user with a password has AWS's shape.
    iam = boto3.client("iam")
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password="not-a-secret-1A!")


class CallRecorder:
    """Records `service:Operation` for every call made through the sessions it wraps."""

    def __init__(self):
        self.calls = set()

    def wrap(self, factory):
        def recorded():
            session = factory()
            session.events.register("before-call.*.*", self._remember)
            return session

        return recorded

    def _remember(self, model, **kwargs):
        # IAM action prefixes equal the signing name, except CloudWatch's ("monitoring").
        prefix = IAM_PREFIXES.get(model.service_model.signing_name, model.service_model.signing_name)
        self.calls.add(f"{prefix}:{model.name}")


@pytest.mark.usefixtures("aws_credentials")
def test_member_policy_matches_calls_made():
    recorder = CallRecorder()
    target = default_target()
    with mock_aws():
        create_user_with_password("alice")
        create_detection_setup()
        evidence = collect_account(AccountTarget(target.account, recorder.wrap(target.session_factory)))

    member_policy, _ = readme_policies()
    assert evidence.error is None
    assert recorder.calls - NEEDS_NO_PERMISSION == member_policy


@pytest.mark.usefixtures("aws_credentials")
def test_management_policy_matches_calls_made():
    recorder = CallRecorder()
    # moto 5.2.1 lacks ListOrganizationsFeatures; the demo's adaptation of moto provides it.
    with mock_aws(), moto_root.root_user_adaptation():
        organizations = boto3.client("organizations")
        organizations.create_organization(FeatureSet="ALL")
        root_id = organizations.list_roots()["Roots"][0]["Id"]
        organizations.enable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
        organizations.create_account(AccountName="member", Email="member@example.com")
        create_user_with_password("alice")
        create_detection_setup()

        targets = discover_organization(recorder.wrap(default_target().session_factory))
        management = next(target for target in targets if target.account.organization_role != MEMBER)
        member = next(target for target in targets if target.account.organization_role == MEMBER)
        evidence = collect_account(management)
        # The member's session comes from AssumeRole, made with the management credentials.
        member.session_factory()

    member_policy, management_policy = readme_policies()
    assert evidence.error is None
    # With --org, account names come from the organization, so no alias is looked up. The
    # policy still grants it for the same credentials used as a profile.
    assert recorder.calls - NEEDS_NO_PERMISSION == management_policy - {"iam:ListAccountAliases"}
    assert member_policy < management_policy


def test_policy_actions_on_allow_list():
    allowed = {f"{service}:{operation}" for service, operation in ALLOWED_OPERATIONS}

    for policy in readme_policies():
        assert policy <= allowed


def test_policies_grant_no_write():
    for policy in readme_policies():
        for action in policy:
            operation = action.split(":", 1)[1]
            reads = operation.startswith(("Get", "List", "Describe"))
            assert reads or action in {"iam:GenerateCredentialReport", "sts:AssumeRole"}, action
