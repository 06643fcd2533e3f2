"""Discover every account of an AWS Organization and reach each one through an assumed role.

Discovery runs once, from management-account or delegated-administrator credentials. It lists the
accounts (`ListAccounts`) and keeps the ACTIVE ones. It walks the OU tree top-down to give each
account its OU path, which costs one call per OU instead of one `ListParents` call per account.
The calling account is audited with the calling credentials. Every other account is reached by
assuming a role in it, through one shared STS client, when its evidence is collected.

Each account also gets its organization context: its role (management or member), whether
centralized root access is enabled, and the SCPs on its path from the organization root. The
SCPs of the root and of each OU are read once and shared by the accounts beneath them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from awscompliance.accounts import AccountTarget, AccountUnreachable, AuditSession, RoleSessions
from awscompliance.aws_errors import AWS_ERRORS, TRANSPORT_ERRORS, error_code, error_message
from awscompliance import scp
from awscompliance.evidence import Account
from awscompliance.scp import Level

logger = logging.getLogger(__name__)

# The role AWS Organizations creates in every account it creates, trusted by the management account.
DEFAULT_ROLE_NAME = "OrganizationAccountAccessRole"
ROLE_SESSION_NAME = "awscompliance-audit"

MANAGEMENT = "management"
MEMBER = "member"


STANDALONE = "standalone"

# ListOrganizationsFeatures names of centralized root access: the management account can delete
# members' root credentials (RootCredentialsManagement) and act as their root (RootSessions).
ROOT_CREDENTIALS_MANAGEMENT = "RootCredentialsManagement"
ROOT_SESSIONS = "RootSessions"

# Threads that list the organization's accounts and OU tree at once, during discovery.
DISCOVERY_WORKERS = 8


class DiscoveryError(Exception):
    """The organization's accounts could not be listed. The message gives the reason and what to do."""


@dataclass(frozen=True)
class OrganizationContext:
    """The organization's facts about one account, read once per run from the management account."""

    # "management", "member", or "standalone": not in an organization, or audited without
    # organization access (any source but --org).
    role: str
    organization_id: str | None = None
    management_account_id: str | None = None
    # IAM ListOrganizationsFeatures EnabledFeatures; None when not read (see features_error).
    enabled_features: frozenset[str] | None = None
    features_error: str | None = None
    # The SCPs on the account's path: the organization root, each OU, then the account itself.
    # Empty when SCPs are not enabled in the organization; None when not read (see scp_error).
    scp_path: tuple[Level, ...] | None = None
    scp_error: str | None = None
    # The management account's detection evidence, where an organization trail's log group,
    # metric filters and alarms live; set on member accounts after collection.
    management_detection: Any = None


@dataclass(frozen=True)
class RoleOptions:
    """The role through which member accounts are reached."""

    role_name: str = DEFAULT_ROLE_NAME
    # Passed to AssumeRole when the member roles' trust policy requires it.
    external_id: str | None = None


def discover_organization(
    session_factory: Callable[[], AuditSession],
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

    # ListAccounts returns at most 20 accounts a page, so a large organization takes many
    # sequential pages. The OU tree is walked meanwhile, on other threads: clients are thread-safe.
    with ThreadPoolExecutor(max_workers=DISCOVERY_WORKERS, thread_name_prefix="discover") as pool:
        listed = pool.submit(_active_accounts, organizations)
        tree = _walk_tree(organizations, pool)
        accounts = listed.result()
    logger.info("organization %s: %d active accounts", description.get("Id"), len(accounts))
    features, features_error = _enabled_features(session, caller)
    scps = _ScpReader(organizations, tree)

    # One STS client serves every AssumeRole: clients are thread-safe, sessions are not.
    assume = _RoleAssumer(sts, options, partition)
    targets = []
    for entry in sorted(accounts, key=lambda item: item["Id"]):
        account_id = entry["Id"]
        role = MANAGEMENT if account_id == management_id else MEMBER
        account = Account(
            account_id=account_id,
            source=source,
            name=entry.get("Name"),
            organization_role=role,
            ou_path=tree.paths.get(account_id, ()),
        )
        context = functools.partial(
            _context,
            scps,
            account,
            OrganizationContext(
                role=role,
                organization_id=description.get("Id"),
                management_account_id=management_id,
                enabled_features=features,
                features_error=features_error,
            ),
        )
        factory = session_factory if account_id == caller else assume.factory(account_id)
        targets.append(AccountTarget(account=account, session_factory=factory, context_factory=context))
    return targets


def _context(scps: _ScpReader, account: Account, base: OrganizationContext) -> OrganizationContext:
    """Complete an account's context with its SCP path; called on a collection thread."""
    try:
        path = scps.path_for(account)
    except DiscoveryError as error:
        return dataclasses.replace(base, scp_error=str(error))
    return dataclasses.replace(base, scp_path=path)


def _enabled_features(session: boto3.Session, caller: str) -> tuple[frozenset[str] | None, str | None]:
    """Read which centralized root access features the organization has enabled."""
    try:
        response = session.client("iam").list_organizations_features()
    except AWS_ERRORS as error:
        message = _listing_failed("iam:ListOrganizationsFeatures", caller, error)
        logger.warning("%s", message)
        return None, message
    return frozenset(response.get("EnabledFeatures", [])), None


@dataclass
class _Tree:
    """The organization's structure, read once: roots, OU names, and each account's OU path."""

    # Root id -> whether SCPs are enabled on it (ListRoots PolicyTypes).
    roots: dict[str, bool]
    # Target id (root or OU) -> display name.
    names: dict[str, str]
    # Account id -> OU ids from the root down to its parent.
    paths: dict[str, tuple[str, ...]]
    # Account id -> the root it sits under.
    account_roots: dict[str, str]


class _ScpReader:
    """Reads the SCPs attached to each target once, shared by every account's collection thread.

    Several threads may read the same OU at once; the duplicate reads are harmless, and the lock
    only keeps the caches consistent.
    """

    def __init__(self, organizations: Any, tree: _Tree) -> None:
        self._organizations = organizations
        self._tree = tree
        self._lock = threading.Lock()
        self._levels: dict[str, scp.Level] = {}
        self._policies: dict[str, scp.Policy] = {}

    def path_for(self, account: Account) -> tuple[scp.Level, ...]:
        account_id = account.account_id or ""
        root_id = self._tree.account_roots.get(account_id)
        if root_id is None:
            raise DiscoveryError(f"Account {account_id} was not found under any root of the organization tree.")
        # SCPs apply only when the SERVICE_CONTROL_POLICY type is enabled on the root.
        if not self._tree.roots[root_id]:
            return ()
        targets = [(root_id, "ROOT")]
        targets += [(ou_id, "ORGANIZATIONAL_UNIT") for ou_id in account.ou_path]
        targets.append((account_id, "ACCOUNT"))
        return tuple(self._level(target_id, target_type, account) for target_id, target_type in targets)

    def _level(self, target_id: str, target_type: str, account: Account) -> scp.Level:
        with self._lock:
            cached = self._levels.get(target_id)
        if cached is not None:
            return cached
        summaries = list(
            _paginate(
                self._organizations,
                "list_policies_for_target",
                "Policies",
                TargetId=target_id,
                Filter="SERVICE_CONTROL_POLICY",
            )
        )
        name = account.name or target_id if target_type == "ACCOUNT" else self._tree.names.get(target_id, target_id)
        level = scp.Level(
            target_id=target_id,
            target_type=target_type,
            name=name,
            policies=tuple(self._policy(summary) for summary in summaries),
        )
        with self._lock:
            self._levels[target_id] = level
        return level

    def _policy(self, summary: dict[str, Any]) -> scp.Policy:
        policy_id = summary["Id"]
        with self._lock:
            cached = self._policies.get(policy_id)
        if cached is not None:
            return cached
        described = _call(
            "organizations:DescribePolicy",
            lambda: self._organizations.describe_policy(PolicyId=policy_id),
        )["Policy"]
        try:
            document = json.loads(described["Content"])
        except (KeyError, ValueError) as error:
            raise DiscoveryError(f"SCP {policy_id} ({summary.get('Name')}) has no readable JSON content: {error}") from None
        policy = scp.Policy(policy_id=policy_id, name=summary.get("Name", policy_id), document=document)
        with self._lock:
            self._policies[policy_id] = policy
        return policy


class _RoleAssumer:
    """Turns an account id into a session factory that assumes the audit role in that account."""

    def __init__(self, sts: Any, options: RoleOptions, partition: str) -> None:
        self._sts = sts
        self._options = options
        self._partition = partition
        self._sessions = RoleSessions()

    def factory(self, account_id: str) -> Callable[[], AuditSession]:
        role_arn = f"arn:{self._partition}:iam::{account_id}:role/{self._options.role_name}"
        region = self._sts.meta.region_name
        return lambda: self._assume(account_id, role_arn, region)

    def _assume(self, account_id: str, role_arn: str, region: str) -> AuditSession:
        parameters = {"RoleArn": role_arn, "RoleSessionName": ROLE_SESSION_NAME}
        if self._options.external_id:
            parameters["ExternalId"] = self._options.external_id
        try:
            credentials = self._sts.assume_role(**parameters)["Credentials"]
        except AWS_ERRORS as error:
            raise AccountUnreachable(_assume_role_failed(account_id, role_arn, error, self._options)) from None
        return self._sessions.session(credentials, region)


def _assume_role_failed(account_id: str, role_arn: str, error: Exception, options: RoleOptions) -> str:
    detail = f"{error_code(error)}: {error_message(error)}" if isinstance(error, ClientError) else str(error)
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
        if error_code(error) == "AWSOrganizationsNotInUseException":
            raise DiscoveryError(
                f"Account {caller} is not in an AWS Organization, so --org has nothing to list. "
                "Audit it without --org, or use the management account's credentials."
            ) from None
        raise DiscoveryError(_listing_failed("organizations:DescribeOrganization", caller, error)) from None
    except TRANSPORT_ERRORS as error:
        raise DiscoveryError(_listing_failed("organizations:DescribeOrganization", caller, error)) from None


def _active_accounts(organizations: Any) -> list[dict[str, Any]]:
    # ListAccounts reports SUSPENDED and PENDING_CLOSURE accounts too; only ACTIVE ones can be audited.
    return [
        account
        for account in _paginate(organizations, "list_accounts", "Accounts")
        if account.get("State", account.get("Status")) == "ACTIVE"
    ]


def _walk_tree(organizations: Any, pool: ThreadPoolExecutor) -> _Tree:
    """Walk the OU tree top-down: one call per OU instead of one ListParents call per account.

    The children of all OUs of one level are listed at once, on `pool`'s threads.
    """
    tree = _Tree(roots={}, names={}, paths={}, account_roots={})
    level: list[tuple[str, str, tuple[str, ...]]] = []
    for root in _paginate(organizations, "list_roots", "Roots"):
        policy_types = root.get("PolicyTypes", [])
        tree.roots[root["Id"]] = any(
            item.get("Type") == "SERVICE_CONTROL_POLICY" and item.get("Status") == "ENABLED" for item in policy_types
        )
        tree.names[root["Id"]] = root.get("Name", root["Id"])
        level.append((root["Id"], root["Id"], ()))

    while level:
        listings = [
            (
                parent,
                pool.submit(_listed, organizations, "list_accounts_for_parent", "Accounts", parent[1]),
                pool.submit(_listed, organizations, "list_organizational_units_for_parent", "OrganizationalUnits", parent[1]),
            )
            for parent in level
        ]
        level = []
        for (root_id, _, path), accounts, units in listings:
            for account in accounts.result():
                tree.paths[account["Id"]] = path
                tree.account_roots[account["Id"]] = root_id
            for unit in units.result():
                tree.names[unit["Id"]] = unit.get("Name", unit["Id"])
                level.append((root_id, unit["Id"], path + (unit["Id"],)))
    return tree


def _listed(organizations: Any, method: str, key: str, parent_id: str) -> list[dict[str, Any]]:
    return list(_paginate(organizations, method, key, ParentId=parent_id))


def _paginate(client: Any, method: str, key: str, **parameters: Any) -> Iterator[dict[str, Any]]:
    operation = f"organizations:{client.meta.method_to_api_mapping[method]}"
    try:
        for page in client.get_paginator(method).paginate(**parameters):
            yield from page[key]
    except AWS_ERRORS as error:
        raise DiscoveryError(_listing_failed(operation, None, error)) from None


def _call(operation: str, function: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return function()
    except AWS_ERRORS as error:
        raise DiscoveryError(_listing_failed(operation, None, error)) from None


def _listing_failed(operation: str, caller: str | None, error: Exception) -> str:
    detail = f"{error_code(error)}: {error_message(error)}" if isinstance(error, ClientError) else str(error)
    caller_text = f" from account {caller}" if caller else ""
    return (
        f"Listing the organization failed: {operation}{caller_text} returned {detail}. Run --org with credentials "
        "of the management account or of a delegated administrator for AWS Organizations, allowed to call "
        "organizations:DescribeOrganization, ListAccounts, ListRoots, ListOrganizationalUnitsForParent and "
        "ListAccountsForParent."
    )


# --- JSON form, for the offline layout and pytest-xdist workers ------------------------------


def context_to_dict(context: OrganizationContext) -> dict[str, Any]:
    """Return the context as JSON-safe data (without `management_detection`, which is relinked on load)."""
    path = context.scp_path
    return {
        "role": context.role,
        "organization_id": context.organization_id,
        "management_account_id": context.management_account_id,
        "enabled_features": sorted(context.enabled_features) if context.enabled_features is not None else None,
        "features_error": context.features_error,
        "scp_path": [_level_to_dict(level) for level in path] if path is not None else None,
        "scp_error": context.scp_error,
    }


def context_from_dict(data: Any) -> OrganizationContext:
    """Rebuild a context from `context_to_dict` output; raise ValueError naming a malformed field."""
    if not isinstance(data, dict):
        raise ValueError("the organization context is not a JSON object")
    role = data.get("role")
    if role not in (MANAGEMENT, MEMBER, STANDALONE):
        raise ValueError(f"role is {role!r}, expected management, member or standalone")
    features = data.get("enabled_features")
    if features is not None and not (isinstance(features, list) and all(isinstance(item, str) for item in features)):
        raise ValueError("enabled_features is not a list of strings")
    path = data.get("scp_path")
    if path is not None and not isinstance(path, list):
        raise ValueError("scp_path is not a list")
    return OrganizationContext(
        role=role,
        organization_id=_optional_text(data, "organization_id"),
        management_account_id=_optional_text(data, "management_account_id"),
        enabled_features=frozenset(features) if features is not None else None,
        features_error=_optional_text(data, "features_error"),
        scp_path=tuple(_level_from_dict(level) for level in path) if path is not None else None,
        scp_error=_optional_text(data, "scp_error"),
    )


def _level_to_dict(level: Level) -> dict[str, Any]:
    return {
        "target_id": level.target_id,
        "target_type": level.target_type,
        "name": level.name,
        "policies": [
            {"policy_id": policy.policy_id, "name": policy.name, "document": policy.document} for policy in level.policies
        ],
    }


def _level_from_dict(data: Any) -> Level:
    if not isinstance(data, dict) or not isinstance(data.get("policies"), list):
        raise ValueError("an scp_path level is not an object with a policies list")
    policies = []
    for policy in data["policies"]:
        if not isinstance(policy, dict) or not isinstance(policy.get("document"), dict):
            raise ValueError("an SCP in scp_path has no JSON document")
        policies.append(scp.Policy(policy_id=str(policy.get("policy_id")), name=str(policy.get("name")), document=policy["document"]))
    return scp.Level(
        target_id=str(data.get("target_id")),
        target_type=str(data.get("target_type")),
        name=str(data.get("name")),
        policies=tuple(policies),
    )


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value
