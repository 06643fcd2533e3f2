"""Live collection: read one account's root evidence through boto3, many accounts in parallel.

`collect_account` turns every expected failure into `Evidence.error`: denied access, bad
credentials, a report that is never ready, a report that cannot be parsed. The message names the
call, the account, the AWS error and what to grant or do. Only a bug raises, and `collect_all`
turns even that into the one account's error so the other accounts still finish.
"""

from __future__ import annotations

import dataclasses
import logging
import random as random_module
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError, NoCredentialsError, SSOError, TokenRetrievalError

from awscompliance.accounts import DEFAULT_REGION, AccountTarget, AccountUnreachable
from awscompliance.aws_errors import AWS_ERRORS, TRANSPORT_ERRORS, error_code, error_message, permission_advice
from awscompliance.credential_report import CredentialReportError, parse_report
from awscompliance.detection import collect_detection
from awscompliance.evidence import Account, Evidence, VirtualMfaDevice
from awscompliance.organization import MANAGEMENT, MEMBER, STANDALONE, OrganizationContext

logger = logging.getLogger(__name__)

# The shortest wait between two credential-report calls, so that no retry is immediate even
# when the jitter draws 0.
MIN_BACKOFF = 0.1

# GenerateCredentialReport fails with LimitExceeded (HTTP 409) when called too often.
_GENERATE_RETRY_CODES = frozenset({"LimitExceeded", "Throttling", "ThrottlingException"})
# GetCredentialReport: ReportInProgress (HTTP 404) means the report is still being generated.
_REPORT_IN_PROGRESS = "ReportInProgress"
# GetCredentialReport: ReportNotPresent and ReportExpired (HTTP 410) mean a new report must be
# generated first.
_REPORT_REGENERATE_CODES = frozenset({"ReportNotPresent", "ReportExpired"})
# Throttling that outlasted botocore's own retries.
_THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException"})
# Error codes of credentials that are invalid or expired rather than lacking a permission.
_CREDENTIAL_ERROR_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)

# Permissions to grant when a call is denied, by call. GetCallerIdentity is missing because it
# needs no permission and cannot be denied, so its failures come from the credentials.
_PERMISSIONS = {
    "GenerateCredentialReport": "iam:GenerateCredentialReport and iam:GetCredentialReport",
    "GetCredentialReport": "iam:GenerateCredentialReport and iam:GetCredentialReport",
    "GetAccountSummary": "iam:GetAccountSummary",
    "ListVirtualMFADevices": "iam:ListVirtualMFADevices",
    "ListAccountAliases": "iam:ListAccountAliases",
}


@dataclass(frozen=True)
class CollectSettings:
    """Bounds and timing of live collection. Tests inject `sleep`, `clock` and `random`."""

    # Seconds to wait, in all, for IAM to have a credential report ready.
    report_timeout: float = 180.0
    # Full-jitter exponential backoff between credential-report calls: retry n waits a random
    # time up to min(backoff_cap, backoff_base * 2**n) seconds, and at least MIN_BACKOFF.
    backoff_base: float = 1.0
    backoff_cap: float = 15.0
    # Waits the given number of seconds.
    sleep: Callable[[float], None] = time.sleep
    # Monotonic clock in seconds, for the report deadline.
    clock: Callable[[], float] = time.monotonic
    # Uniform random number in [0, 1), for the jitter.
    random: Callable[[], float] = random_module.random
    # Region whose GuardDuty, AWS Config and CloudTrail setup is judged; None uses the session's.
    home_region: str | None = None
    # Whether to read the detection evidence (CloudTrail, CloudWatch, GuardDuty, AWS Config).
    detection: bool = True


class _CollectionFailed(Exception):
    """Exception that ends the collection of one account. Its message becomes the evidence's error."""


def collect_account(target: AccountTarget, settings: CollectSettings = CollectSettings()) -> Evidence:
    """Collect the root evidence of one account.

    Never raises for an expected failure. When a required call fails, the returned `Evidence`
    has an `error` naming the call and what to do. When an optional call fails, the matching
    `*_error` field is set instead.
    """
    account = target.account
    try:
        session = target.session_factory()
        sts = session.client("sts")
        iam = session.client("iam")
        account = _identify(sts, iam, account)
        report_response = _fetch_report(iam, account, settings)
        evidence = _evidence_from_report(report_response, account)
    except _CollectionFailed as failure:
        # Every message of _CollectionFailed names the account.
        logger.warning("collection failed: %s", failure)
        return Evidence(account=account, error=str(failure))
    except AccountUnreachable as error:
        logger.warning("collection failed: %s", error)
        return Evidence(account=account, error=str(error))
    except TRANSPORT_ERRORS as error:
        # Raised while creating clients, for example for an unknown profile.
        message = f"Creating AWS clients failed for {_describe(account)}: {error}. Check the AWS configuration of {account.source}."
        logger.warning("collection failed: %s", message)
        return Evidence(account=account, error=message)

    _add_account_summary(iam, evidence)
    _add_virtual_mfa_devices(iam, evidence)
    evidence.organization = _organization_context(target)
    if settings.detection:
        region = settings.home_region or session.region_name or DEFAULT_REGION
        # _identify has read the account id from STS already.
        evidence.detection = collect_detection(session, region, account.account_id)
    return evidence


def identify_account(target: AccountTarget) -> str | None:
    """Return the id of the account the target's credentials act in, or None when that fails."""
    try:
        return target.session_factory().client("sts").get_caller_identity()["Account"]
    except (AccountUnreachable, *AWS_ERRORS) as error:
        logger.warning("cannot identify %s: %s", target.account.source, error)
        return None


def collect_all(
    targets: Sequence[AccountTarget],
    settings: CollectSettings = CollectSettings(),
    workers: int = 32,
    progress: Callable[[int, int, int], None] | None = None,
) -> list[Evidence]:
    """Collect every target on at most `workers` threads; return evidence in the order of `targets`.

    `progress(done, total, errors_so_far)` is called on the calling thread after each account.
    An unexpected exception in one account is logged and becomes that account's error.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not targets:
        return []

    results: list[Evidence | None] = [None] * len(targets)
    errors = 0
    with ThreadPoolExecutor(max_workers=min(workers, len(targets)), thread_name_prefix="collect") as pool:
        futures: dict[Future[Evidence], int] = {
            pool.submit(collect_account, target, settings): index for index, target in enumerate(targets)
        }
        for done, future in enumerate(as_completed(futures), start=1):
            index = futures[future]
            evidence = _result_or_internal_error(future, targets[index])
            results[index] = evidence
            if evidence.error is not None:
                errors += 1
            if progress is not None:
                progress(done, len(targets), errors)

    return [evidence for evidence in results if evidence is not None]


def _result_or_internal_error(future: Future[Evidence], target: AccountTarget) -> Evidence:
    try:
        return future.result()
    except Exception as error:  # a bug in one account must not stop the others
        logger.exception("internal error while collecting %s", _describe(target.account))
        return Evidence(
            account=target.account,
            error=f"internal error: {type(error).__name__}: {error}. This is a bug in the suite, please report it.",
        )


def _identify(sts: Any, iam: Any, account: Account) -> Account:
    """Fill in the account id from STS, and the name from the account alias when missing."""
    try:
        identity = sts.get_caller_identity()
    except AWS_ERRORS as error:
        raise _CollectionFailed(_call_failed("GetCallerIdentity", account, error)) from None

    account_id = identity["Account"]
    if account.account_id is not None and account.account_id != account_id:
        raise _CollectionFailed(
            f"The credentials of {account.source} act in account {account_id}, but account"
            f" {account.account_id} was expected. Fix the account id or the credentials."
        )
    account = dataclasses.replace(account, account_id=account_id)

    if account.name is None:
        account = dataclasses.replace(account, name=_account_alias(iam, account))
    return account


def _account_alias(iam: Any, account: Account) -> str | None:
    """Return the account alias, or None when there is none or it cannot be read."""
    try:
        aliases = iam.list_account_aliases()["AccountAliases"]
    except AWS_ERRORS as error:
        # The alias only labels the account in reports, so a failure here is not an error.
        logger.info("%s", _call_failed("ListAccountAliases", account, error))
        return None
    # An account has at most one alias.
    return aliases[0] if aliases else None


class _Backoff:
    """Full-jitter exponential backoff that stops at the credential-report deadline."""

    def __init__(self, settings: CollectSettings, account: Account) -> None:
        self._settings = settings
        self._account = account
        self._started = settings.clock()
        self._attempt = 0

    def wait(self, last: str) -> None:
        """Sleep before the next call, or raise _CollectionFailed when the deadline is near.

        `last` describes the last state or error code, for the log and the timeout message.
        """
        settings = self._settings
        elapsed = settings.clock() - self._started
        remaining = settings.report_timeout - elapsed
        if remaining <= MIN_BACKOFF:
            raise _CollectionFailed(
                f"The credential report of {_describe(self._account)} was not ready after {elapsed:.0f} s"
                f" (last: {last}). Re-run later, or raise --report-timeout (now {settings.report_timeout:g} s)."
            )

        # Capping the exponent keeps 2**n from overflowing a float after many retries. With any
        # realistic base, backoff_cap applies long before.
        ceiling = min(settings.backoff_cap, settings.backoff_base * 2 ** min(self._attempt, 32))
        delay = min(max(MIN_BACKOFF, ceiling * settings.random()), remaining)
        logger.debug(
            "credential report of %s not ready (%s); retry %d in %.2f s",
            _describe(self._account),
            last,
            self._attempt + 1,
            delay,
        )
        settings.sleep(delay)
        self._attempt += 1


def _fetch_report(iam: Any, account: Account, settings: CollectSettings) -> dict[str, Any]:
    """Generate the credential report until IAM has it ready, then return GetCredentialReport's response."""
    backoff = _Backoff(settings, account)
    must_generate = True
    while True:
        if must_generate:
            try:
                state = iam.generate_credential_report()["State"]
            except ClientError as error:
                code = error_code(error)
                if code not in _GENERATE_RETRY_CODES:
                    raise _CollectionFailed(_call_failed("GenerateCredentialReport", account, error)) from None
                backoff.wait(f"GenerateCredentialReport returned {code}")
                continue
            except TRANSPORT_ERRORS as error:
                raise _CollectionFailed(_call_failed("GenerateCredentialReport", account, error)) from None

            # State is STARTED or INPROGRESS until the report is COMPLETE.
            if state != "COMPLETE":
                backoff.wait(f"report state {state}")
                continue
            must_generate = False

        try:
            return iam.get_credential_report()
        except ClientError as error:
            code = error_code(error)
            if code in _REPORT_REGENERATE_CODES:
                must_generate = True
            elif code != _REPORT_IN_PROGRESS and code not in _THROTTLING_CODES:
                raise _CollectionFailed(_call_failed("GetCredentialReport", account, error)) from None
            backoff.wait(f"GetCredentialReport returned {code}")
        except TRANSPORT_ERRORS as error:
            raise _CollectionFailed(_call_failed("GetCredentialReport", account, error)) from None


def _evidence_from_report(response: dict[str, Any], account: Account) -> Evidence:
    """Parse GetCredentialReport's response and check that the report is the account's own."""
    # boto3 returns Content as CSV bytes, already decoded from base64.
    try:
        report = parse_report(response["Content"])
    except CredentialReportError as error:
        raise _CollectionFailed(
            f"GetCredentialReport for {_describe(account)} returned a report that cannot be read: {error}."
            " Re-run later, and if it persists, inspect the report with `aws iam get-credential-report`."
        ) from None

    if report.account_id != account.account_id:
        raise _CollectionFailed(
            f"The credential report read with the credentials of account {account.account_id} describes"
            f" account {report.account_id}. Check the credentials of {account.source}."
        )

    return Evidence(
        account=account,
        credential_report=report,
        report_generated_time=_utc(response.get("GeneratedTime")),
    )


def _add_account_summary(iam: Any, evidence: Evidence) -> None:
    try:
        evidence.account_summary = dict(iam.get_account_summary()["SummaryMap"])
        evidence.account_summary_time = datetime.now(timezone.utc).replace(microsecond=0)
    except AWS_ERRORS as error:
        # The credential report alone still gives most verdicts, so collection goes on.
        evidence.account_summary_error = _call_failed("GetAccountSummary", evidence.account, error)
        logger.warning("%s", evidence.account_summary_error)


def _add_virtual_mfa_devices(iam: Any, evidence: Evidence) -> None:
    try:
        # The default AssignmentStatus, Any, also lists devices that no principal uses.
        pages = iam.get_paginator("list_virtual_mfa_devices").paginate(AssignmentStatus="Assigned")
        evidence.virtual_mfa_devices = [
            VirtualMfaDevice(
                serial_number=device["SerialNumber"],
                user_arn=device.get("User", {}).get("Arn"),
                enable_date=_utc(device.get("EnableDate")),
            )
            for page in pages
            for device in page["VirtualMFADevices"]
        ]
    except AWS_ERRORS as error:
        evidence.virtual_mfa_devices_error = _call_failed("ListVirtualMFADevices", evidence.account, error)
        logger.warning("%s", evidence.virtual_mfa_devices_error)


def _organization_context(target: AccountTarget) -> OrganizationContext:
    """Return the organization context of an --org target; other sources are standalone."""
    if target.context_factory is None:
        return OrganizationContext(
            role=STANDALONE,
            scp_error="the account was audited without organization access; run with --org from the management account",
        )
    return target.context_factory()


def _call_failed(call: str, account: Account, error: Exception) -> str:
    """Describe a failed call: which call, for which account, the AWS error and what to do."""
    if isinstance(error, (SSOError, TokenRetrievalError)):
        return f"{call} failed for {_describe(account)}: {error}. Sign in again with `aws sso login`, then re-run."
    if isinstance(error, NoCredentialsError):
        return (
            f"{call} failed for {_describe(account)}: {error}."
            " Configure AWS credentials (environment variables, a profile or `aws sso login`), then re-run."
        )
    if isinstance(error, TRANSPORT_ERRORS):
        return (
            f"{call} failed for {_describe(account)}: {error}."
            f" Check the network and the AWS configuration of {account.source}."
        )

    code = error_code(error)
    permission = _PERMISSIONS.get(call)
    identity = _identity(account)
    if (code in _CREDENTIAL_ERROR_CODES or permission is None) and account.organization_role == MEMBER:
        # The rejected credentials came from AssumeRole, and a new run assumes the role again.
        advice = "Re-run, which assumes the role again; if it recurs, check the calling credentials and the role's maximum session duration."
    elif code in _CREDENTIAL_ERROR_CODES or permission is None:
        advice = f"Renew or fix {identity}."
    else:
        advice = permission_advice(error, permission, identity)
    return f"{call} failed for {_describe(account)}: {code}: {error_message(error)}. {advice}"


def _identity(account: Account) -> str:
    """Name the credentials that collection uses for an account, for the advice in messages."""
    # With --org, members are read through the role that --role-name names, and the management
    # account through the calling credentials.
    if account.organization_role == MEMBER:
        return f"the role assumed in account {account.account_id} (--role-name)"
    if account.organization_role == MANAGEMENT:
        return "the calling credentials, which audit the management account"
    return f"the credentials of {account.source}"


def _describe(account: Account) -> str:
    """Name an account in messages: its id and name when known, else its source."""
    if account.account_id is None:
        return account.source
    return f"account {account.label}"


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        # AWS writes API timestamps in UTC, so one that botocore left naive is UTC.
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
