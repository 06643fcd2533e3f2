"""Discover every account of an AWS Organization and reach each one through an assumed role.

Discovery runs once, from management-account or delegated-administrator credentials: it lists the
accounts (`ListAccounts`), keeps the ACTIVE ones, and walks the OU tree top-down to give each
account its OU path, which costs one call per OU instead of one `ListParents` call per account.
The calling account is audited with the calling credentials. Every other account is reached by
assuming a role in it, through one shared STS client, when its evidence is collected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from awscompliance.accounts import AccountTarget, AccountUnreachable, session_from_credentials
from awscompliance.evidence import Account

logger = logging.getLogger(__name__)

# The role AWS Organizations creates in every account it creates, trusted by the management account.
DEFAULT_ROLE_NAME = "OrganizationAccountAccessRole"
ROLE_SESSION_NAME = "awscompliance-audit"

MANAGEMENT = "management"
MEMBER = "member"


class DiscoveryError(Exception):
    """The organization's accounts could not be listed; the message says why and what to do."""


@dataclass(frozen=True)
class RoleOptions:
    """How member accounts are reached."""

    role_name: str = DEFAULT_ROLE_NAME
    # Passed to AssumeRole when the member roles' trust policy requires it.
    external_id: str | None = None


def discover_organization(
    session_factory: Callable[[], boto3.Session],
    options: RoleOptions = RoleOptions(),
    source: str = "organization",
) -> list[AccountTarget]:
    """Return one target per ACTIVE account of the caller's organization, sorted by account id.

    `session_factory` returns guarded sessions with the calling (management or delegated
    administrator) credentials. Raises DiscoveryError when the organization cannot be listed.
    """
    session = session_factory()
    organizations = session.client("organizations")
    sts = session.client("sts")
    caller = _call("sts:GetCallerIdentity", sts.get_caller_identity)["Account"]
    description = _describe_organization(organizations, caller)
    management_id = description["MasterAccountId"]
    partition = description.get("MasterAccountArn", "arn:aws:").split(":")[1]

    accounts = [
        account
        for account in _paginate(organizations, "list_accounts", "Accounts")
        # ListAccounts reports SUSPENDED and PENDING_CLOSURE accounts too; only ACTIVE ones can be audited.
        if account.get("State", account.get("Status")) == "ACTIVE"
    ]
    paths = _ou_paths(organizations)
    logger.info("organization %s: %d active accounts", description.get("Id"), len(accounts))

    # One STS client serves every AssumeRole: clients are thread-safe, sessions are not.
    assume = _RoleAssumer(sts, options, partition)
    targets = []
    for entry in sorted(accounts, key=lambda item: item["Id"]):
        account_id = entry["Id"]
        account = Account(
            account_id=account_id,
            source=source,
            name=entry.get("Name"),
            organization_role=MANAGEMENT if account_id == management_id else MEMBER,
            ou_path=paths.get(account_id, ()),
        )
        if account_id == caller:
            factory = session_factory
        else:
            factory = assume.factory(account_id)
        targets.append(AccountTarget(account=account, session_factory=factory))
    return targets


class _RoleAssumer:
    """Turns an account id into a session factory that assumes the audit role in that account."""

    def __init__(self, sts: Any, options: RoleOptions, partition: str) -> None:
        self._sts = sts
        self._options = options
        self._partition = partition

    def factory(self, account_id: str) -> Callable[[], boto3.Session]:
        role_arn = f"arn:{self._partition}:iam::{account_id}:role/{self._options.role_name}"
        region = self._sts.meta.region_name
        return lambda: self._assume(account_id, role_arn, region)

    def _assume(self, account_id: str, role_arn: str, region: str) -> boto3.Session:
        parameters = {"RoleArn": role_arn, "RoleSessionName": ROLE_SESSION_NAME}
        if self._options.external_id:
            parameters["ExternalId"] = self._options.external_id
        try:
            credentials = self._sts.assume_role(**parameters)["Credentials"]
        except (ClientError, BotoCoreError) as error:
            raise AccountUnreachable(_assume_role_failed(account_id, role_arn, error, self._options)) from None
        return session_from_credentials(credentials, region)


def _assume_role_failed(account_id: str, role_arn: str, error: Exception, options: RoleOptions) -> str:
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "unknown")
        detail = f"{code}: {error.response.get('Error', {}).get('Message', '')}".rstrip(": ")
    else:
        detail = str(error)
    external = " and the external id given with --external-id" if options.external_id else ""
    return (
        f"AssumeRole of {role_arn} failed for account {account_id}: {detail}. Check that the role exists in "
        f"the account, that its trust policy allows the auditing identity{external}, and that no SCP denies "
        "sts:AssumeRole; or choose another role with --role-name."
    )


def _describe_organization(organizations: Any, caller: str) -> dict[str, Any]:
    try:
        return organizations.describe_organization()["Organization"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "AWSOrganizationsNotInUseException":
            raise DiscoveryError(
                f"Account {caller} is not in an AWS Organization, so --org has nothing to list. "
                "Audit it without --org, or use the management account's credentials."
            ) from None
        raise DiscoveryError(_listing_failed("organizations:DescribeOrganization", caller, error)) from None
    except BotoCoreError as error:
        raise DiscoveryError(_listing_failed("organizations:DescribeOrganization", caller, error)) from None


def _ou_paths(organizations: Any) -> dict[str, tuple[str, ...]]:
    """Map each account id to the OU ids from the organization root down to its parent."""
    paths: dict[str, tuple[str, ...]] = {}
    roots = _paginate(organizations, "list_roots", "Roots")
    pending: list[tuple[str, tuple[str, ...]]] = [(root["Id"], ()) for root in roots]
    while pending:
        parent_id, path = pending.pop()
        for account in _paginate(organizations, "list_accounts_for_parent", "Accounts", ParentId=parent_id):
            paths[account["Id"]] = path
        for unit in _paginate(organizations, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent_id):
            pending.append((unit["Id"], path + (unit["Id"],)))
    return paths


def _paginate(client: Any, method: str, key: str, **parameters: Any) -> Iterator[dict[str, Any]]:
    operation = f"organizations:{client.meta.method_to_api_mapping[method]}"
    try:
        for page in client.get_paginator(method).paginate(**parameters):
            yield from page[key]
    except (ClientError, BotoCoreError) as error:
        raise DiscoveryError(_listing_failed(operation, None, error)) from None


def _call(operation: str, function: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return function()
    except (ClientError, BotoCoreError) as error:
        raise DiscoveryError(_listing_failed(operation, None, error)) from None


def _listing_failed(operation: str, caller: str | None, error: Exception) -> str:
    if isinstance(error, ClientError):
        detail = f"{error.response.get('Error', {}).get('Code', 'unknown')}: {error.response.get('Error', {}).get('Message', '')}"
    else:
        detail = str(error)
    who = f" from account {caller}" if caller else ""
    return (
        f"Listing the organization failed: {operation}{who} returned {detail}. Run --org with credentials "
        "of the management account or of a delegated administrator for AWS Organizations, allowed to call "
        "organizations:DescribeOrganization, ListAccounts, ListRoots, ListOrganizationalUnitsForParent and "
        "ListAccountsForParent."
    )

