"""Account sources: which accounts to audit and how to reach each one."""

from __future__ import annotations

import functools
import itertools
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.credentials
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
    # Returns a session whose credentials act in this account, with the read-only guard
    # installed. Called on a collection thread, so each call returns a session of its own.
    session_factory: Callable[[], AuditSession]
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


class RoleSessions:
    """Sessions for the assumed roles of many accounts, sharing botocore clients per thread.

    Creating a botocore session and its clients costs more CPU than an account's API calls: in
    a large organization it was most of a run's CPU time. So each collection thread keeps one
    guarded session and one client per service and Region, and `session` points that thread's
    clients at the account being collected. botocore reads a client's credentials again for
    every request it signs, so a request is signed with the keys of the account that was
    current when it was sent.

    A `PooledSession` is valid only on its own thread, and only until the next `session` call
    there. Outside that, its clients reject every call with `StaleSessionError`, so no call made
    through them goes out with another account's keys. (A paginator's later pages are not
    checked: iterate it before the next account's session.) A collection thread collects one
    account at a time, which keeps this rule.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def session(self, credentials: dict[str, Any], region: str) -> PooledSession:
        """Make `credentials` (in AssumeRole's shape) current on this thread and return their session."""
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = _ThreadClients()
        return pool.activate(credentials, region)


class StaleSessionError(RuntimeError):
    """A `PooledSession` was used after another account's session replaced it, or on another thread."""


class PooledSession:
    """One account's view of a thread's shared clients; the part of `boto3.Session` the suite uses."""

    def __init__(self, pool: _ThreadClients, generation: int, region: str, credentials: botocore.credentials.Credentials) -> None:
        self._pool = pool
        self._generation = generation
        self.region_name = region
        self._credentials = credentials

    def client(self, service_name: str, region_name: str | None = None) -> _BoundClient:
        self.check_current()
        return _BoundClient(self._pool.client(service_name, region_name or self.region_name), self)

    def get_credentials(self) -> botocore.credentials.Credentials:
        """Return this account's credentials, as `boto3.Session.get_credentials` does."""
        return self._credentials

    def check_current(self) -> None:
        """Raise StaleSessionError unless this session's account is its thread's current one."""
        self._pool.check_current(self._generation)


# A session factory's result: a boto3 session, or an assumed role's session of shared clients.
AuditSession = boto3.Session | PooledSession


class _BoundClient:
    """A shared client that checks, before each call, that its session is still current."""

    def __init__(self, client: Any, session: PooledSession) -> None:
        self._client = client
        self._session = session

    def __getattr__(self, name: str) -> Any:
        self._session.check_current()
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def checked(*args: Any, **kwargs: Any) -> Any:
            self._session.check_current()
            return attribute(*args, **kwargs)

        return checked


class _CurrentCredentials(botocore.credentials.Credentials):
    """Credentials whose keys are those of the account its thread is collecting now."""

    def __init__(self) -> None:
        # The base class's __init__ would assign the keys, which are properties here.
        self.method = "assume-role"
        self.current: botocore.credentials.Credentials | None = None

    def _keys(self) -> botocore.credentials.Credentials:
        if self.current is None:
            raise StaleSessionError("no account is current on this thread")
        return self.current

    @property
    def access_key(self) -> str:
        return self._keys().access_key

    @property
    def secret_key(self) -> str:
        return self._keys().secret_key

    @property
    def token(self) -> str | None:
        return self._keys().token

    @property
    def account_id(self) -> str | None:
        return self._keys().account_id

    def get_frozen_credentials(self) -> botocore.credentials.ReadOnlyCredentials:
        return self._keys().get_frozen_credentials()


class _ThreadClients:
    """One thread's guarded session and clients, whose credentials follow the current account."""

    def __init__(self) -> None:
        self._owner = threading.get_ident()
        self._generations = itertools.count(1)
        self._generation = 0
        self._credentials = _CurrentCredentials()
        core = _new_core_session(None)
        # Every client of this session reads the same credentials object, whose keys change.
        provider = _FixedProvider(self._credentials)
        core.register_component("credential_provider", botocore.credentials.CredentialResolver([provider]))
        self._session = new_session(botocore_session=core)
        self._clients: dict[tuple[str, str], Any] = {}

    def activate(self, credentials: dict[str, Any], region: str) -> PooledSession:
        keys = botocore.credentials.Credentials(
            credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials.get("SessionToken"), method="assume-role"
        )
        self._check_thread()
        self._credentials.current = keys
        self._generation = next(self._generations)
        # Each account gets a full retry budget, as it would with clients of its own: throttling
        # in one account must not use up the retries of the next accounts on this thread.
        for key, client in list(self._clients.items()):
            if not _refill_retry_quota(client):
                del self._clients[key]
        return PooledSession(self, self._generation, region, keys)

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._session.client(service, region_name=region)
        return self._clients[key]

    def check_current(self, generation: int) -> None:
        self._check_thread()
        if generation != self._generation:
            raise StaleSessionError(
                "a client of an account's session was used after the session of another account"
                " replaced it on the same thread; its requests would be signed with the other account's keys"
            )

    def _check_thread(self) -> None:
        if threading.get_ident() != self._owner:
            raise StaleSessionError("a thread's shared AWS clients were used from another thread")


def _refill_retry_quota(client: Any) -> bool:
    """Give `client` a full retry budget again; return False when botocore's layout is unknown.

    botocore's standard retry mode keeps one retry quota per client, and stops retrying while it
    is empty. The quota starts at 500 units, a throttled retry takes 5, and a success returns 1.
    botocore has no public way to reset it, so this sets private attributes of botocore 1.43
    (see `botocore.retries.standard.register_retry_handler`). When they are not found, the
    caller creates a new client, which comes with a full quota.
    """
    service = client.meta.service_model.service_id.hyphenize()
    try:
        entry = client.meta.events._emitter._unique_id_handlers[f"retry-config-{service}"]
        retry_quota = entry["handler"].__self__._retry_quota._quota
        capacity = retry_quota._max_capacity
        with retry_quota._lock:
            retry_quota._available_capacity = capacity
    except (AttributeError, KeyError, TypeError):
        logger.debug("cannot refill the retry quota of a %s client; creating a new client", service)
        return False
    return True


class _FixedProvider(botocore.credentials.CredentialProvider):
    """A credential provider that always returns the same credentials object."""

    METHOD = "assume-role"

    def __init__(self, credentials: botocore.credentials.Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> botocore.credentials.Credentials:
        return self._credentials


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
