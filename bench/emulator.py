"""Serve a simulated AWS Organization of N accounts from moto, on 127.0.0.1, for the benchmark.

`bench/run.py` starts this script in a subprocess. It can also be run alone:

    python bench/emulator.py --accounts 1143 --latency-ms 50 --throttle-rate 0.05

The script seeds an organization of N active accounts (the management account and N-1 members
in nested OUs, plus a few closed accounts that must not be audited) while moto's root-user
adaptation is active. Each account has a `<root_account>` root row, one to four IAM users, and a
seeded mix of root violations. Seeding calls moto's backends in-process: through boto3 each
call costs about 3 ms, which for 1,143 accounts would be close to a minute.

It then serves moto's API with werkzeug's threaded server on 127.0.0.1 and a free port, behind
a WSGI middleware that can add a fixed latency to every request and reject a fraction of them
with AWS's throttling error. Two additions let moto respond to every call the suite makes: the
organization has the SCP policy type enabled on its root, and IAM ListOrganizationsFeatures,
which moto 5.2.1 does not implement, gets its response from the middleware. When ready, the script prints
one line to stdout: `emulator ready {...}`, a JSON object with the port and the seeded mix.
`GET /_bench/stats` returns the request, throttling and CPU counters as JSON. SIGTERM or SIGINT
stops the server.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import logging
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# `python bench/emulator.py` puts bench/ on sys.path, not the project root that contains awscompliance.
sys.path.insert(0, str(PROJECT_ROOT))

from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
import moto.backends  # noqa: E402
import moto.core.responses  # noqa: E402
import moto.iam.models  # noqa: E402
import moto.sts.models  # noqa: E402
from moto.iam.models import IAMBackend, iam_backends  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app  # noqa: E402
from moto.organizations.models import OrganizationsBackend, organizations_backends  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from awscompliance.credential_report import ROOT_USER_NAME  # noqa: E402
from awscompliance.demo import moto_root  # noqa: E402
from awscompliance.demo.organization import (  # noqa: E402
    MEMBER_ROLE_NAME,
    ROLE_SESSION_NAME,
    AccountSeed,
    KeySeed,
    PrincipalSeed,
    seed_account,
)

logger = logging.getLogger("bench.emulator")

REGION = "us-east-1"
# moto maps an access key it did not issue, such as the benchmark's fake `testing` key, to its
# default account. Creating the organization there makes the caller the management account.
MANAGEMENT_ACCOUNT_ID = DEFAULT_ACCOUNT_ID
READY_PREFIX = "emulator ready "
STATS_PATH = "/_bench/stats"
ROOT_CONTROLS = ("root-usage", "root-access-key", "root-mfa", "root-hardware-mfa")
# The suite's default window: root use at most this many days ago fails root-usage. Seeded uses
# are 0-5 days old or at least 30, so a run started hours after seeding still gets the same verdicts.
ROOT_USAGE_DAYS = 7

# OU paths of the members and their relative share of the accounts.
OU_WEIGHTS: dict[tuple[str, ...], int] = {
    ("Security",): 2,
    ("Infrastructure",): 3,
    ("Workloads", "Production", "Payments"): 10,
    ("Workloads", "Production", "Web"): 15,
    ("Workloads", "Production", "Data"): 10,
    ("Workloads", "NonProduction", "Staging"): 15,
    ("Workloads", "NonProduction", "Development"): 25,
    ("Sandbox",): 20,
}
QUARANTINE_OU = ("Quarantine",)
SUSPENDED_OU = ("Suspended",)

# IAM users that members get one to four of, with their own credentials.
USER_POOL = (
    PrincipalSeed("alice.admin", has_password=True, password_last_used_days=1, virtual_mfa=("alice.admin",),
                  access_keys=(KeySeed(age_days=40, last_used_days=1),)),
    PrincipalSeed("ci-deployer", access_keys=(KeySeed(age_days=400, last_used_days=0),)),
    PrincipalSeed("bob.analyst", has_password=True, password_last_used_days=12),
    PrincipalSeed("legacy-batch", access_keys=(KeySeed(age_days=1200, active=False), KeySeed(age_days=700, last_used_days=90))),
    PrincipalSeed("carol.secops", has_password=True, password_last_used_days=3, hardware_mfa=("GAHT20000001",)),
    PrincipalSeed("terraform", access_keys=(KeySeed(age_days=200, last_used_days=2),)),
)

# The SCP attached to the quarantine OU. The AccessDenied errors of its accounts stand for it.
DENY_REPORT_SCP = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "DenyCredentialReport", "Effect": "Deny", "Action": list(moto_root.CREDENTIAL_REPORT_ACTIONS), "Resource": "*"}
    ],
}


@dataclass(frozen=True)
class ViolationMix:
    """Share of member accounts that show each case; each account draws each case independently."""

    # Root signed in, or used an access key, 0-5 days ago.
    recent_use: float = 0.10
    root_access_key: float = 0.05
    # The root MFA state is one of these four, drawn in this order; hardware MFA takes the rest.
    no_password: float = 0.10
    no_mfa: float = 0.15
    virtual_mfa: float = 0.30
    # Accounts whose credential report an SCP denies: this share, and at least one.
    report_denied: float = 0.005
    # Closed (SUSPENDED) accounts added on top of the N active ones: this share, and at least one.
    closed: float = 0.01


@dataclass(frozen=True)
class SeededAccount:
    """One seeded account and the verdict per control that its seed implies."""

    account_id: str
    seed: AccountSeed
    expected: dict[str, str]


def build_seeds(accounts: int, mix: ViolationMix, rng: random.Random) -> list[AccountSeed]:
    """Draw the seeds of the management account, N-1 members and the closed accounts, in that order."""
    management = AccountSeed(
        name="management",
        ou_path=(),
        story="Hardware MFA, no keys, last root sign-in 200 days ago.",
        root=PrincipalSeed(ROOT_USER_NAME, has_password=True, password_last_used_days=200, hardware_mfa=("GAHT10000000",)),
        users=USER_POOL[:2],
        age_days=2500,
    )
    members = accounts - 1
    denied = set(rng.sample(range(members), max(1, round(members * mix.report_denied)))) if members else set()
    paths = list(OU_WEIGHTS)
    weights = list(OU_WEIGHTS.values())

    seeds = [management]
    for index in range(members):
        report_denied = index in denied
        ou_path = QUARANTINE_OU if report_denied else rng.choices(paths, weights)[0]
        seeds.append(
            AccountSeed(
                name=f"{ou_path[-1].lower()}-{index + 1:04d}",
                ou_path=ou_path,
                story="generated",
                root=_draw_root(mix, rng, index),
                users=tuple(rng.sample(USER_POOL, rng.randint(1, 4))),
                age_days=rng.randint(60, 3000),
                report_denied=report_denied,
            )
        )

    for index in range(max(1, round(accounts * mix.closed))):
        seeds.append(
            AccountSeed(
                name=f"closed-{index + 1:04d}",
                ou_path=SUSPENDED_OU,
                story="closed: listed by the organization but not audited",
                root=PrincipalSeed(ROOT_USER_NAME, has_password=True, access_keys=(KeySeed(age_days=900),)),
                closed=True,
            )
        )
    return seeds


def _draw_root(mix: ViolationMix, rng: random.Random, index: int) -> PrincipalSeed:
    draw = rng.random()
    has_password = draw >= mix.no_password
    hardware: tuple[str, ...] = ()
    virtual: tuple[str, ...] = ()
    if draw >= mix.no_password + mix.no_mfa + mix.virtual_mfa:
        hardware = (f"GAHT{index:08d}",)
    elif draw >= mix.no_password + mix.no_mfa:
        virtual = ("root-mfa",)

    recent = rng.random() < mix.recent_use
    wants_key = rng.random() < mix.root_access_key
    last_sign_in = None
    key_last_used = rng.choice((None, rng.randint(30, 900)))
    if recent and has_password:
        last_sign_in = rng.randint(0, 5)
    elif has_password:
        last_sign_in = rng.choice((None, rng.randint(30, 900)))
    if recent and not has_password:
        # Without a password, the only recent use root can show is that of an access key.
        wants_key = True
        key_last_used = rng.randint(0, 5)

    keys: tuple[KeySeed, ...] = ()
    if wants_key:
        keys = (KeySeed(age_days=rng.randint(300, 1500), last_used_days=key_last_used, active=rng.random() < 0.7),)
    return PrincipalSeed(
        ROOT_USER_NAME,
        has_password=has_password,
        password_last_used_days=last_sign_in,
        hardware_mfa=hardware,
        virtual_mfa=virtual,
        access_keys=keys,
    )


def expected_verdicts(seed: AccountSeed) -> dict[str, str]:
    """Return the status per control that the suite must give an account seeded this way.

    These are the rules of the README applied to what the seed sets, for the cases that
    `build_seeds` draws. They let run.py count wrong and missing verdicts, not only findings.
    """
    if seed.report_denied:
        return dict.fromkeys(ROOT_CONTROLS, "error")
    root = seed.root
    uses = [root.password_last_used_days] + [key.last_used_days for key in root.access_keys]
    recent = any(days is not None and days <= ROOT_USAGE_DAYS for days in uses)
    has_mfa = bool(root.hardware_mfa or root.virtual_mfa)
    if not root.has_password:
        hardware_status = "pass"
    elif not has_mfa or root.virtual_mfa:
        hardware_status = "fail"
    else:
        hardware_status = "pass"
    return {
        "root-usage": "fail" if recent else "pass",
        "root-access-key": "fail" if root.access_keys else "pass",
        "root-mfa": "pass" if has_mfa or not root.has_password else "fail",
        "root-hardware-mfa": hardware_status,
    }


class BackendIamClient:
    """The IAM client calls that the demo's `seed_account` makes, served by one account's moto backend.

    Going around botocore and moto's request parsing makes seeding about fifty times faster
    than through a boto3 client. Each method takes and returns what the boto3 call of the same
    name takes and returns, as far as `seed_account` reads it.
    """

    def __init__(self, backend: IAMBackend) -> None:
        self._backend = backend

    def create_user(self, UserName: str) -> None:  # noqa: N803 (boto3's parameter names)
        self._backend.create_user(REGION, UserName)

    def create_login_profile(self, UserName: str, Password: str) -> None:  # noqa: N803
        self._backend.create_login_profile(UserName, Password)

    def enable_mfa_device(self, UserName: str, SerialNumber: str, AuthenticationCode1: str, AuthenticationCode2: str) -> None:  # noqa: N803
        self._backend.enable_mfa_device(UserName, SerialNumber, AuthenticationCode1, AuthenticationCode2)

    def create_virtual_mfa_device(self, VirtualMFADeviceName: str) -> dict[str, Any]:  # noqa: N803
        device = self._backend.create_virtual_mfa_device(VirtualMFADeviceName, "/")
        return {"VirtualMFADevice": {"SerialNumber": device.serial_number}}

    def create_access_key(self, UserName: str) -> dict[str, Any]:  # noqa: N803
        key = self._backend.create_access_key(UserName)
        return {"AccessKey": {"AccessKeyId": key.access_key_id}}

    def update_access_key(self, UserName: str, AccessKeyId: str, Status: str) -> None:  # noqa: N803
        self._backend.update_access_key(UserName, AccessKeyId, Status)


def seed_organization(
    seeds: list[AccountSeed], adaptation: moto_root.RootAdaptation, now: datetime
) -> list[SeededAccount]:
    """Create the organization of `seeds` in moto's backends; return the active accounts.

    The first seed is the management account. Call inside `moto_root.root_user_adaptation()`,
    because moto stores a virtual MFA device's user ARN when the device is enabled.
    """
    organizations: OrganizationsBackend = organizations_backends[MANAGEMENT_ACCOUNT_ID]["aws"]
    organizations.create_organization(region=REGION, FeatureSet="ALL")
    root_id = organizations.list_roots()["Roots"][0]["Id"]
    # Like most organizations that use SCPs, and needed for the deny below to apply.
    organizations.enable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
    ou_ids = _create_organizational_units(organizations, root_id, [seed.ou_path for seed in seeds[1:]])
    deny_policy = organizations.create_policy(
        Name="DenyCredentialReport",
        Description="Blocks the IAM credential report in quarantined accounts",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(DENY_REPORT_SCP),
    )["Policy"]["PolicySummary"]["Id"]
    organizations.attach_policy(PolicyId=deny_policy, TargetId=ou_ids[QUARANTINE_OU])

    management = seeds[0]
    moto_root.rename_organization_account(MANAGEMENT_ACCOUNT_ID, management.name)
    seed_account(_iam_client(MANAGEMENT_ACCOUNT_ID), MANAGEMENT_ACCOUNT_ID, management, now)
    active = [SeededAccount(MANAGEMENT_ACCOUNT_ID, management, expected_verdicts(management))]

    for seed in seeds[1:]:
        status = organizations.create_account(AccountName=seed.name, Email=f"aws+{seed.name}@example.com")
        account_id = status["CreateAccountStatus"]["AccountId"]
        organizations.move_account(AccountId=account_id, SourceParentId=root_id, DestinationParentId=ou_ids[seed.ou_path])
        seed_account(_iam_client(account_id), account_id, seed, now)
        if seed.report_denied:
            caller = f"arn:aws:sts::{account_id}:assumed-role/{MEMBER_ROLE_NAME}/{ROLE_SESSION_NAME}"
            adaptation.deny_credential_report(account_id, caller)
        if seed.closed:
            organizations.close_account(AccountId=account_id)
        else:
            active.append(SeededAccount(account_id, seed, expected_verdicts(seed)))
    return active


def _iam_client(account_id: str) -> BackendIamClient:
    return BackendIamClient(iam_backends[account_id]["aws"])


def _create_organizational_units(
    organizations: OrganizationsBackend, root_id: str, paths: Iterable[tuple[str, ...]]
) -> dict[tuple[str, ...], str]:
    """Create every OU on `paths` and the quarantine OU; return OU path -> OU id, with () for the root."""
    ou_ids: dict[tuple[str, ...], str] = {(): root_id}
    for path in [*paths, QUARANTINE_OU]:
        for depth in range(1, len(path) + 1):
            prefix = path[:depth]
            if prefix not in ou_ids:
                created = organizations.create_organizational_unit(ParentId=ou_ids[prefix[:-1]], Name=prefix[-1])
                ou_ids[prefix] = created["OrganizationalUnit"]["Id"]
    return ou_ids


def generate_reports(active: list[SeededAccount]) -> None:
    """Generate the credential report of every account whose report is not denied.

    IAM keeps a report for 4 hours, and GenerateCredentialReport returns COMPLETE, not STARTED,
    while it does, so the suite then reads each report without waiting.
    """
    for account in active:
        if not account.seed.report_denied:
            iam_backends[account.account_id]["aws"].generate_report()


def summarize_mix(active: list[SeededAccount]) -> dict[str, Any]:
    """Count the seeded cases and the expected verdicts, for the ready line."""
    statuses: Counter[str] = Counter()
    for account in active:
        for control, status in account.expected.items():
            statuses[f"{control}:{status}"] += 1
    roots = [account.seed.root for account in active if not account.seed.report_denied]
    return {
        "report_denied": sum(account.seed.report_denied for account in active),
        "root_no_password": sum(not root.has_password for root in roots),
        "root_no_mfa": sum(root.has_password and not (root.hardware_mfa or root.virtual_mfa) for root in roots),
        "root_virtual_mfa": sum(bool(root.virtual_mfa) for root in roots),
        "root_access_key": sum(bool(root.access_keys) for root in roots),
        "expected": dict(sorted(statuses.items())),
    }


class OrganizationsFeatures:
    """WSGI middleware that responds to IAM ListOrganizationsFeatures, which moto 5.2.1 does not implement.

    The organization has centralized root access enabled with both of its features, and every
    caller gets the management account's response. Other requests pass to moto unchanged.
    """

    FEATURES = ("RootCredentialsManagement", "RootSessions")

    def __init__(self, app: Callable[..., Any], organization_id: str) -> None:
        self._app = app
        self._organization_id = organization_id

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # A SigV4 Authorization header names the service in its credential scope.
        if "/iam/aws4_request" not in environ.get("HTTP_AUTHORIZATION", ""):
            return self._app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        if parse_qs(body.decode("utf-8", "replace")).get("Action") != ["ListOrganizationsFeatures"]:
            return self._app(environ, start_response)

        members = "".join(f"<member>{feature}</member>" for feature in self.FEATURES)
        response = (
            '<ListOrganizationsFeaturesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
            f"<ListOrganizationsFeaturesResult><OrganizationId>{self._organization_id}</OrganizationId>"
            f"<EnabledFeatures>{members}</EnabledFeatures></ListOrganizationsFeaturesResult>"
            "<ResponseMetadata><RequestId>bench-list-organizations-features</RequestId></ResponseMetadata>"
            "</ListOrganizationsFeaturesResponse>"
        ).encode()
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(response)))])
        return [response]


class FaultInjection:
    """WSGI middleware that delays every request and throttles a fraction of them, as AWS can.

    A throttled request gets HTTP 400 with the error of its protocol, because botocore reads
    the error code the way the service's protocol writes it:
    - query (form-encoded body: IAM, STS, SNS): XML `ErrorResponse` with code `Throttling`;
    - JSON (`X-Amz-Target` header): `__type` `TooManyRequestsException` for Organizations, as it
      responds when rate-limited, and `ThrottlingException` for the other services;
    - REST-JSON (any other request, e.g. GuardDuty): header `x-amzn-ErrorType: ThrottlingException`.
    botocore's standard retry mode retries all three codes. Also serves `GET /_bench/stats`.
    """

    def __init__(self, app: Callable[..., Any], latency: float, throttle_rate: float, rng: random.Random, seed_seconds: float) -> None:
        self._app = app
        self._latency = latency
        self._throttle_rate = throttle_rate
        self._rng = rng
        self._seed_seconds = seed_seconds
        self._lock = threading.Lock()
        self._requests = 0
        self._throttled = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == STATS_PATH:
            return self._stats(start_response)
        if self._latency:
            time.sleep(self._latency)
        with self._lock:
            self._requests += 1
            throttle = self._rng.random() < self._throttle_rate
            self._throttled += throttle
        if throttle:
            return self._throttle(environ, start_response)
        return self._app(environ, start_response)

    def _throttle(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # Read the request body, so that the kept-alive connection starts the next request at its start.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        request_id = f"{self._rng.getrandbits(128):032x}"
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        extra_headers = []
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            body = (
                "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
                f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            ).encode()
            content_type = "text/xml"
        elif target:
            code = "TooManyRequestsException" if target.startswith("AWSOrganizations") else "ThrottlingException"
            body = json.dumps({"__type": code, "message": "Rate exceeded"}).encode()
            content_type = "application/x-amz-json-1.1"
        else:
            body = json.dumps({"message": "Rate exceeded"}).encode()
            content_type = "application/json"
            extra_headers = [("x-amzn-ErrorType", "ThrottlingException")]
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), ("x-amzn-RequestId", request_id)]
        start_response("400 Bad Request", headers + extra_headers)
        return [body]

    def _stats(self, start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            stats = {"requests": self._requests, "throttled": self._throttled}
        # CPU seconds of the whole emulator process: seeding and every server thread.
        stats["cpu_seconds"] = time.process_time()
        stats["seed_seconds"] = self._seed_seconds
        body = json.dumps(stats).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


class AccountLookupCache:
    """Memoize moto's search for the account that issued an access key.

    moto finds each request's account by searching every account's IAM backend, in every
    partition, for the request's access key: about 8,000 dictionary lookups per request with
    1,143 accounts, which made the emulator's CPU per request grow with N. An access key belongs
    to one account for its whole life, and the benchmark's keys exist before their first request
    (AssumeRole returns new ones), so the first result for a key stays right.

    `remember` records the account of a key that AssumeRole has just issued, so that even the
    first request signed with it skips the search.
    """

    def __init__(self, search: Callable[[str], str]) -> None:
        self._search = search
        self._accounts: dict[str, str] = {}

    def __call__(self, access_key: str) -> str:
        account_id = self._accounts.get(access_key)
        if account_id is None:
            account_id = self._accounts[access_key] = self._search(access_key)
        return account_id

    def remember(self, access_key: str, account_id: str) -> None:
        self._accounts[access_key] = account_id

    def recording_issuer(self, issue: Callable[..., tuple[str, Any]]) -> Callable[..., tuple[str, Any]]:
        """Wrap moto's `STSBackend._create_access_key`, which returns (account id, access key)."""

        def issue_and_remember(backend: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
            account_id, access_key = issue(backend, *args, **kwargs)
            self.remember(access_key.access_key_id, account_id)
            return account_id, access_key

        return issue_and_remember


@contextlib.contextmanager
def cached_request_routing(lookup: AccountLookupCache) -> Iterator[None]:
    """Skip the per-request work of moto's server whose result never changes while it serves.

    Profiled at 1,143 accounts, this work took about a third of the emulator's CPU, which the
    suite's process shares on the benchmark machine. AWS does this work on its own side:
    - moto's dispatcher lists its package folder on disk for every request, to tell whether the
      host names a service (`moto.backends.list_of_moto_modules`);
    - moto lists the methods of the response class for every request
      (`moto.core.responses.method_names_from_class`), to tell whether the action exists;
    - moto searches every account for the request's access key (see `AccountLookupCache`).
    """
    modules = tuple(moto.backends.list_of_moto_modules())
    method_names = functools.lru_cache(maxsize=None)(moto.core.responses.method_names_from_class)
    with contextlib.ExitStack() as patches:
        patches.enter_context(mock.patch.object(moto.backends, "list_of_moto_modules", lambda: modules))
        patches.enter_context(mock.patch.object(moto.core.responses, "method_names_from_class", method_names))
        # moto's request handling imports the function from this module at each call.
        patches.enter_context(mock.patch.object(moto.iam.models, "get_account_id_from", lookup))
        issue = moto.sts.models.STSBackend._create_access_key
        patches.enter_context(mock.patch.object(moto.sts.models.STSBackend, "_create_access_key", lookup.recording_issuer(issue)))
        yield


class _Stop(BaseException):
    """Raised in the main thread by SIGTERM or SIGINT to leave `serve_forever`.

    A BaseException, like KeyboardInterrupt: socketserver logs and drops any Exception raised
    while it accepts a connection, which is where a busy server's main thread often is.
    """


def _raise_stop(signum: int, frame: Any) -> None:
    raise _Stop(signal.Signals(signum).name)


def _stop_on_stdin_eof() -> None:
    """Send SIGTERM to this process once stdin closes, which happens when the parent dies."""
    sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGTERM)


def _fake_environment() -> None:
    """Leave only fake AWS credentials in the environment, and no moto account override."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    # moto would map every request to this account, whatever its credentials.
    os.environ.pop("MOTO_ACCOUNT_ID", None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, required=True, help="Active accounts to seed, the management account included.")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="Delay added to every request, in milliseconds (default: 0).")
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="Share of requests rejected with a throttling error, 0 to 1 (default: 0).")
    parser.add_argument("--port", type=int, default=0, help="Port on 127.0.0.1 (default: 0, a free port).")
    parser.add_argument("--seed", type=int, default=20260601, help="Random seed of the organization and of throttling (default: 20260601).")
    parser.add_argument("--manifest", type=Path, help="Write the accounts and their expected verdicts to this JSON file.")
    parser.add_argument(
        "--reports-ready",
        action="store_true",
        help="Generate every account's credential report before serving, as for a second run within IAM's 4 hours.",
    )
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="Stop when stdin closes; run.py sets it so that no emulator outlives it.")
    args = parser.parse_args(argv)
    if args.accounts < 1:
        parser.error(f"--accounts must be 1 or more, got {args.accounts}")
    if not 0 <= args.throttle_rate < 1:
        parser.error(f"--throttle-rate must be at least 0 and below 1, got {args.throttle_rate}")
    if args.latency_ms < 0:
        parser.error(f"--latency-ms must be 0 or more, got {args.latency_ms}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    # werkzeug logs every request at INFO, which would cost more than some requests.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _fake_environment()
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    if args.exit_on_stdin_eof:
        threading.Thread(target=_stop_on_stdin_eof, name="stdin-watch", daemon=True).start()

    started = time.monotonic()
    rng = random.Random(args.seed)
    seeds = build_seeds(args.accounts, ViolationMix(), rng)
    try:
        # The server reads and writes the same moto backends as the seeding, in this process, so
        # the adaptation must stay active while it serves. No mock_aws() is needed: nothing here
        # sends a request through botocore.
        with moto_root.seeded_random(args.seed), moto_root.root_user_adaptation() as adaptation:
            active = seed_organization(seeds, adaptation, datetime.now(timezone.utc))
            if args.reports_ready:
                generate_reports(active)
            # The search creates each account's missing backends on the way. One search now
            # creates them all, so that the first request of a run does not pay for it.
            moto.iam.models.get_account_id_from("warm-up")
            lookup = AccountLookupCache(moto.iam.models.get_account_id_from)
            with cached_request_routing(lookup):
                seed_seconds = time.monotonic() - started
                logger.info("seeded %d active accounts in %.1f s", len(active), seed_seconds)
                if args.manifest:
                    _write_manifest(args.manifest, active)
                ready = summarize_mix(active) | {"accounts": len(active), "closed": len(seeds) - len(active)}
                _serve(args, rng, seed_seconds, ready)
    except _Stop as stop:
        logger.info("stopped by %s", stop)
    return 0


def _write_manifest(path: Path, active: list[SeededAccount]) -> None:
    accounts = {
        account.account_id: {"name": account.seed.name, "report_denied": account.seed.report_denied, "expected": account.expected}
        for account in active
    }
    path.write_text(json.dumps({"accounts": accounts}, indent=1), encoding="utf-8")


def _serve(args: argparse.Namespace, rng: random.Random, seed_seconds: float, ready: dict[str, Any]) -> None:
    organization_id = organizations_backends[MANAGEMENT_ACCOUNT_ID]["aws"].describe_organization()["Organization"]["Id"]
    moto_app = OrganizationsFeatures(DomainDispatcherApplication(create_backend_app), organization_id)
    app = FaultInjection(moto_app, args.latency_ms / 1000, args.throttle_rate, rng, seed_seconds)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    try:
        ready = {"port": server.port, "seed_seconds": round(seed_seconds, 2)} | ready
        print(READY_PREFIX + json.dumps(ready), flush=True)
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
