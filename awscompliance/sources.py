"""Choose the evidence sources from the command-line options and gather every account's evidence."""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from awscompliance.accounts import AccountTarget
from awscompliance.evidence import Account, Evidence

logger = logging.getLogger(__name__)

# done, total, errors so far, seconds elapsed
Progress = Callable[[int, int, int, float], None]

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_OU_ID = re.compile(r"^ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}$")


def no_credentials_message(profile: str | None = None) -> str:
    """Return the one message that stops a live run without credentials, with the alternatives."""
    where = f" for profile {profile!r}" if profile else ""
    return (
        f"No AWS credentials were found{where}, so no account can be audited. Configure credentials "
        "(aws configure, AWS_PROFILE or environment variables), or run `pytest --demo` for the built-in "
        "simulated organization, or `pytest --credential-reports=DIR` for exported credential reports."
    )


@dataclass(frozen=True)
class AccountFilter:
    """The accounts to keep, from --accounts, --exclude-accounts and --ou."""

    # Account ids to keep; None keeps every account.
    include: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    # OU id whose accounts (at any depth) are kept; None keeps every account.
    ou: str | None = None

    def keeps(self, account_id: str | None, ou_path: Sequence[str] = ()) -> bool:
        """Return whether an account passes the filter.

        An account whose id is unknown (an unreadable offline file) is kept, so that its error is
        reported rather than silently dropped.
        """
        if account_id is None:
            return True
        if self.include is not None and account_id not in self.include:
            return False
        if account_id in self.exclude:
            return False
        return self.ou is None or self.ou in ou_path


@dataclass(frozen=True)
class SourceOptions:
    """The evidence-source options of one run, validated."""

    demo: bool
    # --credential-reports PATH, or None.
    reports: str | None
    org: bool
    profiles: tuple[str, ...]
    account_filter: AccountFilter
    workers: int
    report_timeout: float
    # --region: the home Region for detection controls, or None for the session's.
    region: str | None
    role_name: str
    external_id: str | None


def read_options(config: pytest.Config) -> SourceOptions:
    """Validate the source options; raise pytest.UsageError naming the first invalid one."""
    options = SourceOptions(
        demo=config.getoption("demo"),
        reports=config.getoption("credential_reports"),
        org=config.getoption("org"),
        profiles=tuple(_split(config.getoption("profiles"))),
        account_filter=_account_filter(config),
        workers=config.getoption("workers"),
        report_timeout=config.getoption("report_timeout"),
        region=config.getoption("region"),
        role_name=config.getoption("role_name"),
        external_id=config.getoption("external_id"),
    )
    exclusive = [name for name, value in (("--demo", options.demo), ("--credential-reports", options.reports)) if value]
    others = [name for name, value in (("--org", options.org), ("--profiles", options.profiles)) if value]
    if len(exclusive) > 1 or (exclusive and others):
        raise pytest.UsageError(f"Choose one evidence source; got {' and '.join(exclusive + others)}.")
    if options.account_filter.ou and not (options.org or options.demo):
        raise pytest.UsageError("--ou needs --org (or --demo): only organization discovery knows OU paths.")
    if options.workers < 1:
        raise pytest.UsageError(f"--workers must be 1 or more, got {options.workers}.")
    if not math.isfinite(options.report_timeout) or options.report_timeout <= 0:
        raise pytest.UsageError(f"--report-timeout must be a number of seconds above 0, got {options.report_timeout:g}.")
    _check_save_path(config, options.reports)
    return options


def gather_evidence(config: pytest.Config, progress: Progress | None = None) -> list[Evidence]:
    """Collect evidence from the sources the options select: demo, offline files, or live AWS.

    Live sources are the AWS Organization (--org), named profiles (--profiles), both, or else the
    default credential chain. Raises pytest.UsageError for a problem with the options themselves
    (conflicting sources, a missing path, no credentials), which stops the run with one message.
    """
    options = read_options(config)
    gathered = _gather(options, progress)
    evidence = link_management_detection(_deduplicate(gathered.evidence))
    # The management account may have been collected only for the members' organization trail.
    evidence = _filtered(evidence, options.account_filter)
    evidence += _requested_but_missing(options.account_filter, evidence, gathered.discovered)
    if not evidence:
        raise pytest.UsageError(
            "No account is left to audit: the account filters (--accounts, --exclude-accounts, --ou) exclude every account."
        )
    return evidence


@dataclass
class _Gathered:
    """A source's output: the evidence, and every account id it found before filtering."""

    evidence: list[Evidence]
    discovered: set[str]


def _gather(options: SourceOptions, progress: Progress | None) -> _Gathered:
    if options.reports:
        loaded = _offline(Path(options.reports))
        return _Gathered(loaded, {item.account_id for item in loaded if item.account_id})

    from awscompliance import collect

    settings = collect.CollectSettings(report_timeout=options.report_timeout, home_region=options.region)
    timed = _timed(progress)
    if options.demo:
        from awscompliance.demo import start_demo

        with start_demo() as targets:
            chosen = _chosen_targets(targets, options.account_filter)
            collected = collect.collect_all(chosen, settings, workers=options.workers, progress=timed)
        return _Gathered(collected, _ids(targets) | _ids_of(collected))

    targets = _live_targets(options)
    chosen = _chosen_targets(targets, options.account_filter)
    collected = collect.collect_all(chosen, settings, workers=options.workers, progress=timed)
    return _Gathered(collected, _ids(targets) | _ids_of(collected))


def _chosen_targets(targets: list[AccountTarget], account_filter: AccountFilter) -> list[AccountTarget]:
    """Apply the filters, keeping the management account when members are chosen without it.

    An organization trail's log group, metric filters and alarms live in the management account,
    so its detection evidence is needed to judge any member's root-use alarm. Its own findings
    are dropped again after linking when the filters exclude it.
    """
    if account_filter.ou and not any(account_filter.ou in target.account.ou_path for target in targets):
        raise pytest.UsageError(
            f"--ou {account_filter.ou} contains no ACTIVE account of the organization; check the OU id."
        )
    chosen = _filtered_targets(targets, account_filter)
    management = [target for target in targets if target.account.organization_role == "management"]
    # An account excluded by name is never touched. Members that need its trail then report an error.
    if chosen and management and management[0] not in chosen and management[0].account.account_id not in account_filter.exclude:
        chosen.append(management[0])
    return chosen


def _ids(targets: list[AccountTarget]) -> set[str]:
    return {target.account.account_id for target in targets if target.account.account_id}


def _ids_of(evidence: list[Evidence]) -> set[str]:
    return {item.account_id for item in evidence if item.account_id}


def _deduplicate(evidence: list[Evidence]) -> list[Evidence]:
    """Keep one evidence per account id, so that two profiles of one account give one result.

    The first evidence without an error wins, else the first. Offline files with the same id are
    merged into an error earlier, because two exports of one account may disagree.
    """
    chosen: dict[str, Evidence] = {}
    unknown = []
    for item in evidence:
        account_id = item.account_id
        if account_id is None:
            unknown.append(item)
            continue
        previous = chosen.get(account_id)
        if previous is None or (previous.error is not None and item.error is None):
            chosen[account_id] = item
        if previous is not None:
            logger.info("account %s was reached through %s and %s; it is audited once", account_id, previous.account.source, item.account.source)
    return list(chosen.values()) + unknown


def link_management_detection(evidence: list[Evidence]) -> list[Evidence]:
    """Give each member the management account's detection evidence, where organization trails live."""
    management = [
        item for item in evidence if item.organization is not None and item.organization.role == "management"
    ]
    if len(management) != 1 or management[0].detection is None:
        return evidence
    for item in evidence:
        context = item.organization
        if context is not None and context.role == "member":
            item.organization = dataclasses.replace(context, management_detection=management[0].detection)
    return evidence


def _requested_but_missing(
    account_filter: AccountFilter, evidence: list[Evidence], discovered: set[str] | None = None
) -> list[Evidence]:
    """Give an error to each account named with --accounts that no source found, rather than drop it.

    An account that a source found but another filter (--ou, --exclude-accounts) excluded is
    left out, as the filters request.
    """
    if account_filter.include is None:
        return []
    found = {item.account_id for item in evidence} | (discovered or set())
    return [
        Evidence(
            account=Account(account_id=account_id, source="--accounts"),
            error=(
                f"Account {account_id} was requested with --accounts but no source found it. Check the id, "
                "and that the account is ACTIVE in the organization or has a report in the offline folder."
            ),
        )
        for account_id in sorted(account_filter.include - found)
        if account_id not in account_filter.exclude
    ]


def _check_save_path(config: pytest.Config, reports: str | None) -> None:
    save = config.getoption("save_evidence")
    if not save:
        return
    target = Path(save).resolve()
    if target.exists() and not target.is_dir():
        raise pytest.UsageError(f"--save-evidence {save!r} is a file; give a folder.")
    if reports:
        source = Path(reports).resolve()
        if target == source or source in target.parents or target in source.parents:
            raise pytest.UsageError(
                f"--save-evidence {save!r} overlaps --credential-reports {reports!r}; saving there would "
                "overwrite the files being read. Choose another folder."
            )


def _live_targets(options: SourceOptions) -> list[AccountTarget]:
    from awscompliance import accounts

    try:
        # Unknown profile names are reported before credentials are looked for.
        profile_targets = accounts.profile_targets(options.profiles) if options.profiles else []
    except accounts.AccountSourceError as error:
        raise pytest.UsageError(str(error)) from None
    for profile in options.profiles or (None,):
        if not accounts.has_credentials(profile):
            raise pytest.UsageError(no_credentials_message(profile))
    if not options.org:
        return profile_targets or [accounts.default_target()]

    from awscompliance.organization import DiscoveryError, RoleOptions, discover_organization

    role_options = RoleOptions(role_name=options.role_name, external_id=options.external_id)
    try:
        org_targets = discover_organization(accounts.default_target().session_factory, role_options)
    except DiscoveryError as error:
        raise pytest.UsageError(str(error)) from None
    return _merge(org_targets, profile_targets)


def _merge(org_targets: list[AccountTarget], profile_targets: list[AccountTarget]) -> list[AccountTarget]:
    """Combine organization and profile targets so that an account seen twice is audited once.

    A profile's account id is unknown until its credentials are asked, so each profile is
    identified here with one GetCallerIdentity call. A profile that cannot be identified stays a
    target of its own, and its collection reports why.
    """
    from awscompliance.collect import identify_account

    known = {target.account.account_id for target in org_targets}
    merged = list(org_targets)
    for target in profile_targets:
        account_id = identify_account(target)
        if account_id in known:
            logger.info("profile %s is account %s, already audited through the organization", target.account.name, account_id)
            continue
        merged.append(target)
    return merged


def _filtered_targets(targets: list[AccountTarget], account_filter: AccountFilter) -> list[AccountTarget]:
    kept = [target for target in targets if account_filter.keeps(target.account.account_id, target.account.ou_path)]
    if len(kept) < len(targets):
        logger.info("account filters keep %d of %d accounts", len(kept), len(targets))
    return kept


def _filtered(evidence: list[Evidence], account_filter: AccountFilter) -> list[Evidence]:
    """Apply the filters again once ids are known (profiles and offline files learn theirs late)."""
    return [item for item in evidence if account_filter.keeps(item.account_id, item.account.ou_path)]


def _account_filter(config: pytest.Config) -> AccountFilter:
    include = _account_ids(config.getoption("accounts"), "--accounts")
    exclude = _account_ids(config.getoption("exclude_accounts"), "--exclude-accounts")
    ou = config.getoption("ou")
    if ou is not None and not _OU_ID.match(ou):
        raise pytest.UsageError(f"--ou {ou!r} is not an OU id; expected the form ou-ab12-cd34ef56.")
    return AccountFilter(include=include, exclude=exclude or frozenset(), ou=ou)


def _account_ids(value: str | None, option: str) -> frozenset[str] | None:
    if value is None:
        return None
    ids = _split(value)
    invalid = [item for item in ids if not _ACCOUNT_ID.match(item)]
    if invalid or not ids:
        raise pytest.UsageError(f"{option} takes comma-separated 12-digit account ids; invalid: {', '.join(invalid) or value!r}.")
    return frozenset(ids)


def _offline(path: Path) -> list[Evidence]:
    from awscompliance.offline import OfflineSourceError, load_evidence

    try:
        return load_evidence(path)
    except OfflineSourceError as error:
        raise pytest.UsageError(str(error)) from None


def _timed(progress: Progress | None) -> Callable[[int, int, int], None] | None:
    if progress is None:
        return None
    started = time.monotonic()

    def report(done: int, total: int, errors: int) -> None:
        progress(done, total, errors, time.monotonic() - started)

    return report


def _split(value: str | None) -> list[str]:
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]
