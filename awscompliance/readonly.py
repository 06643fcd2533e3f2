"""The read-only guard: a botocore hook that rejects every AWS call the suite does not need.

The suite audits accounts and must never change them, even when its credentials could. Every
session it creates comes from `new_session`, which installs a `before-call` handler that lets an
operation through only when it is on the allow-list. The handler runs before the request is built
and signed, and before moto's `before-send` hook or botocore's `Stubber` returns a response, so it
also protects demo runs and is exercised by the unit tests.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
from botocore.model import OperationModel

logger = logging.getLogger(__name__)

# (botocore service name, operation name) pairs the suite calls. All are reads, with two
# exceptions, each explained beside its entry.
ALLOWED_OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("sts", "GetCallerIdentity"),
        # AssumeRole returns temporary credentials for a role in another account. It creates,
        # changes and deletes nothing in either account.
        ("sts", "AssumeRole"),
        # The only call that is not a read. IAM returns the credential report only after this
        # call has generated it, and it changes no configuration: it only refreshes the report,
        # at most once every 4 hours.
        ("iam", "GenerateCredentialReport"),
        ("iam", "GetCredentialReport"),
        ("iam", "GetAccountSummary"),
        ("iam", "ListVirtualMFADevices"),
        ("iam", "ListAccountAliases"),
        ("iam", "ListOrganizationsFeatures"),
        ("organizations", "DescribeOrganization"),
        ("organizations", "ListAccounts"),
        ("organizations", "ListAccountsForParent"),
        ("organizations", "ListParents"),
        ("organizations", "ListChildren"),
        ("organizations", "ListRoots"),
        ("organizations", "ListOrganizationalUnitsForParent"),
        ("organizations", "DescribeOrganizationalUnit"),
        ("organizations", "ListPoliciesForTarget"),
        ("organizations", "DescribePolicy"),
        ("cloudtrail", "DescribeTrails"),
        ("cloudtrail", "GetTrailStatus"),
        ("cloudtrail", "GetEventSelectors"),
        ("logs", "DescribeMetricFilters"),
        ("cloudwatch", "DescribeAlarms"),
        ("sns", "ListSubscriptionsByTopic"),
        ("guardduty", "ListDetectors"),
        ("guardduty", "GetDetector"),
        ("config", "DescribeConfigRules"),
    }
)

# Calls that botocore's credential providers make on the suite's own sessions to turn a profile
# into credentials: web identity roles, IAM Identity Center (SSO) profiles and their token
# refresh, and `aws login` profiles. They return or refresh the caller's own temporary
# credentials and change nothing in the audited account. Without them, every SSO profile would
# fail before its first read.
CREDENTIAL_PROVIDER_OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("sts", "AssumeRoleWithWebIdentity"),
        ("sso", "GetRoleCredentials"),
        ("sso-oidc", "CreateToken"),
        ("signin", "CreateOAuth2Token"),
    }
)

_PERMITTED = ALLOWED_OPERATIONS | CREDENTIAL_PROVIDER_OPERATIONS

# Registering under a fixed unique id makes a second `install_guard` on the same session a no-op.
_GUARD_ID = "awscompliance-readonly-guard"


class WriteCallRejected(RuntimeError):
    """An AWS call that is not on the read-only allow-list was attempted and not sent."""

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(
            f"{service}:{operation} was rejected and not sent: this suite only reads from AWS"
            f" accounts, and {operation} is not in awscompliance.readonly.ALLOWED_OPERATIONS"
        )
        self.service = service
        self.operation = operation


def install_guard(session: boto3.Session) -> boto3.Session:
    """Install the read-only guard on `session` and return the same session.

    Clients copy the session's event handlers when they are created, so the guard covers only
    clients created after this call. Installing it twice on one session registers it once.
    """
    # `register_first` under the `before-call.*.*` pattern puts the guard ahead of `Stubber`,
    # which registers its response handler under the same pattern later, on the client.
    session.events.register_first("before-call.*.*", _reject_unlisted_call, unique_id=_GUARD_ID)
    return session


def new_session(**kwargs: Any) -> boto3.Session:
    """Create a `boto3.Session(**kwargs)` with the read-only guard installed."""
    return install_guard(boto3.Session(**kwargs))


def _reject_unlisted_call(model: OperationModel, **kwargs: Any) -> None:
    service = model.service_model.service_name
    operation = model.name
    if (service, operation) not in _PERMITTED:
        logger.error("rejected %s:%s, which is not on the read-only allow-list", service, operation)
        raise WriteCallRejected(service, operation)
