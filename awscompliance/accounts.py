"""Account sources: which accounts to audit and how to reach each one."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from awscompliance.evidence import Account
from awscompliance.readonly import new_session

logger = logging.getLogger(__name__)

# IAM is a global service, and in the commercial partition its endpoint is in us-east-1, so that
# region works for every commercial account. A profile's own region still comes first, because
# GovCloud and China accounts can only be reached through a region of their own partition.
DEFAULT_REGION = "us-east-1"

# The container credential provider fetches from its HTTP endpoint as soon as it is asked, and
# these environment variables configure that endpoint.
_CONTAINER_PROVIDER = "container-role"
_CONTAINER_CREDENTIAL_VARIABLES = (
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@dataclass(frozen=True)
class AccountTarget:
    """An account to collect live evidence from."""

    account: Account
    # Returns a boto3 session whose credentials act in this account, with the read-only guard
    # installed. Called on a collection thread, so each call returns a session of its own.
    session_factory: Callable[[], boto3.Session]
    # Returns the account's organization context (an `organization.OrganizationContext`) for
    # accounts discovered with --org, or is None for other sources. It records a failed read in
    # the context's error fields rather than raising.
    context_factory: Callable[[], Any] | None = None


class AccountSourceError(ValueError):
    """An account source names something that does not exist, such as an unknown profile."""


class AccountUnreachable(Exception):
    """A target's session could not be created (an AssumeRole was denied, for example).

    Raised by a session factory; collection turns the message into that account's error.
    """


def client_config() -> Config:
    """Build the botocore client configuration that every client of the suite uses.

    IAM and Organizations publish no rate limits and throttle with `Throttling`. The `standard`
    retry mode retries throttling and transient errors with jittered exponential backoff.
    `max_attempts` counts retries, so a request is sent at most 9 times, which gives a busy
    account time to recover. The timeouts keep an unreachable endpoint from stalling a
    collection thread.
    """
    return Config(
        retries={"mode": "standard", "max_attempts": 8},
        connect_timeout=5,
        read_timeout=20,
    )


def default_target() -> AccountTarget:
    """Target the account of the default credential chain; its id is known only after collection."""
    account = Account(account_id=None, source="default credentials")
    return AccountTarget(account=account, session_factory=lambda: _new_guarded_session(None))


def profile_targets(names: Sequence[str]) -> list[AccountTarget]:
    """Target one account per named profile of the AWS config.

    Raises AccountSourceError for the first name that is not a configured profile.
    """
    available = boto3.Session().available_profiles
    targets = []
    for name in names:
        if name not in available:
            listed = ", ".join(sorted(available)) or "none"
            raise AccountSourceError(
                f"Profile {name!r} is not in the AWS config or credentials file."
                f" Available profiles: {listed}."
            )
        account = Account(account_id=None, source=f"profile {name}", name=name)
        targets.append(AccountTarget(account=account, session_factory=_profile_session_factory(name)))
    return targets


def has_credentials(profile: str | None = None) -> bool:
    """Check whether the default chain, or `profile`, resolves credentials.

    Only the EC2 instance metadata service may be asked over the network, and only when no
    other provider found credentials. Skipping it would keep the check offline, but then an EC2
    host whose only credentials come from its instance profile would be reported as having none. It is
    held to one attempt with a 1 s timeout per request (botocore's defaults, fixed here so that a
    config raising them cannot slow the check), so outside EC2 the check gives up after about
    2 s: a token request, then a role request. The container endpoint is not called, because its
    environment variables are enough to count.
    """
    session = botocore.session.Session(profile=profile)
    session.set_config_variable("metadata_service_num_attempts", 1)
    session.set_config_variable("metadata_service_timeout", 1)
    try:
        # Building the resolver reads the config, so it raises for an unknown profile.
        resolver = session.get_component("credential_provider")
        resolver.remove(_CONTAINER_PROVIDER)
        credentials = resolver.load_credentials()
    except BotoCoreError as error:
        logger.debug("no credentials for %s: %s", profile or "the default chain", error)
        return False
    if credentials is not None:
        return True
    return any(os.environ.get(variable) for variable in _CONTAINER_CREDENTIAL_VARIABLES)


def _profile_session_factory(profile: str) -> Callable[[], boto3.Session]:
    return lambda: _new_guarded_session(profile)


def session_from_credentials(credentials: dict[str, Any], region: str) -> boto3.Session:
    """Create a guarded session from credentials in AssumeRole's shape (`SessionToken` optional)."""
    core = _new_core_session(None)
    return new_session(
        botocore_session=core,
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
    )


def _new_guarded_session(profile: str | None) -> boto3.Session:
    """Create a guarded session whose clients all use `client_config()`.

    Sessions are not thread-safe, so every call creates a new one.
    """
    core = _new_core_session(profile)
    region = core.get_config_variable("region") or DEFAULT_REGION
    return new_session(botocore_session=core, region_name=region)


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    """Return one botocore data loader for all sessions.

    Each new session would otherwise read and parse the IAM and STS service models from disk
    again, which costs more CPU per account than the API calls in a large organization. The
    loader only caches parsed JSON files, which are never modified, so sharing it is safe.
    """
    return botocore.loaders.create_loader()


def _new_core_session(profile: str | None) -> botocore.session.Session:
    core = botocore.session.Session(profile=profile)
    core.register_component("data_loader", _shared_loader())
    # The default client config applies to every client of the session, including the STS and
    # SSO clients that the credential providers create.
    core.set_default_client_config(client_config())
    # AssumeRole through the session's own region rather than the global endpoint in us-east-1.
    core.set_config_variable("sts_regional_endpoints", "regional")
    return core
