"""Evaluate service control policies (SCPs) along an account's path, and probe them for root controls.

An SCP path is the organization root, each OU down to the account, and the account itself, each
with the SCPs attached directly to it. `evaluate` decides one request against that path. The root
probes (`root_mfa_enforcement`, `root_ip_restriction`) run a fixed set of root-user requests
through `evaluate` and turn the decisions into a verdict with its evidence.

The evaluator supports a fixed subset of the policy language (see `SUPPORTED_OPERATORS` and
`SUPPORTED_CONDITION_KEYS`) and never guesses outside it. A statement that uses anything else
gets the outcome "unknown" instead of true or false. Unknown statements only matter when they can
change the decision: a request that a supported Deny already denies stays denied, and the unknown
statements are listed in `Decision.unevaluated`. Otherwise `evaluate` raises
`UnsupportedPolicyElement` naming the element, the policy and the level.

SCPs never apply to the management account, whose root user no SCP restricts. Callers must not
run these probes for the management account, and `applies_to` returns whether SCPs apply.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

ROOT = "ROOT"
ORGANIZATIONAL_UNIT = "ORGANIZATIONAL_UNIT"
ACCOUNT = "ACCOUNT"
_TARGET_TYPES = (ROOT, ORGANIZATIONAL_UNIT, ACCOUNT)

# Operator name -> (operator family, whether it is an ...IfExists form). Operator names are
# matched exactly as AWS spells them, and any other spelling counts as unsupported.
SUPPORTED_OPERATORS: Mapping[str, tuple[str, bool]] = {
    "Bool": ("bool", False),
    "BoolIfExists": ("bool", True),
    "StringEquals": ("string-equals", False),
    "StringEqualsIfExists": ("string-equals", True),
    "StringLike": ("string-like", False),
    "StringLikeIfExists": ("string-like", True),
    "ArnEquals": ("arn", False),
    "ArnEqualsIfExists": ("arn", True),
    "ArnLike": ("arn", False),
    "ArnLikeIfExists": ("arn", True),
    "IpAddress": ("ip", False),
    "IpAddressIfExists": ("ip", True),
    "NotIpAddress": ("not-ip", False),
    "NotIpAddressIfExists": ("not-ip", True),
    "Null": ("null", False),
}

# Lower-case condition key -> value type. Condition keys are case-insensitive in AWS, and each of
# these global keys is single-valued.
SUPPORTED_CONDITION_KEYS: Mapping[str, str] = {
    "aws:multifactorauthpresent": "boolean",
    "aws:principalarn": "arn",
    "aws:sourceip": "ip",
    "aws:viaawsservice": "boolean",
    "aws:assumedroot": "boolean",
}

# The operator families allowed for each key type. String and Null operators compare any key.
# The others need a key of their own type, and another pairing counts as unsupported.
_FAMILIES_BY_KEY_TYPE: Mapping[str, frozenset[str]] = {
    "boolean": frozenset({"bool", "string-equals", "string-like", "null"}),
    "arn": frozenset({"arn", "string-equals", "string-like", "null"}),
    "ip": frozenset({"ip", "not-ip", "string-equals", "string-like", "null"}),
}

_STATEMENT_ELEMENTS = frozenset({"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"})
_POLICY_ELEMENTS = frozenset({"Version", "Id", "Statement"})
_SOURCE_IP = "aws:sourceip"
_ROOT_ARN = re.compile(r"^arn:[a-z][a-z0-9-]*:iam::\d{12}:root$")


class ScpEvaluationError(ValueError):
    """Base class of the errors that stop an SCP evaluation, so that callers can catch them all."""


class InvalidPolicyDocument(ScpEvaluationError):
    """An SCP document that breaks the policy grammar. The message names the policy, level and element."""


class InvalidPath(ScpEvaluationError):
    """A list of levels that is not an SCP path: the root, then OUs, then the account."""


class InvalidRequest(ScpEvaluationError):
    """A malformed request or root ARN given to the evaluator. The message names the value."""


class UnsupportedPolicyElement(ScpEvaluationError):
    """A condition operator, condition key or statement element outside the supported subset.

    The evaluator raises it only when the element could change the decision.
    """

    def __init__(self, element: str, policy: Policy, level: LevelRef, detail: str = "") -> None:
        self.element = element
        self.policy_name = policy.name
        self.policy_id = policy.policy_id
        self.level = level
        message = (
            f'SCP "{policy.name}" ({policy.policy_id}) attached to {level.describe()} uses {element}, '
            "which the SCP evaluator does not support"
        )
        if detail:
            message += f" ({detail})"
        message += ". Review that policy by hand or extend the evaluator before trusting a verdict for it."
        super().__init__(message)


# ---------------------------------------------------------------------------------------------
# Data model
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """One SCP: its id (`p-...`), its name and its parsed JSON document."""

    policy_id: str
    name: str
    document: dict[str, Any]

    @classmethod
    def from_content(cls, policy_id: str, name: str, content: str) -> Policy:
        """Build a Policy from the JSON text that `DescribePolicy` returns as `Content`."""
        try:
            document = json.loads(content)
        except json.JSONDecodeError as error:
            raise InvalidPolicyDocument(f'SCP "{name}" ({policy_id}) is not valid JSON: {error}') from None
        return cls(policy_id=policy_id, name=name, document=document)


@dataclass(frozen=True)
class LevelRef:
    """The identity of one level of an SCP path, without its policies."""

    target_id: str
    target_type: str
    name: str

    def describe(self) -> str:
        if self.target_type == ROOT:
            return f'the organization root "{self.name}" ({self.target_id})'
        if self.target_type == ORGANIZATIONAL_UNIT:
            return f'OU "{self.name}" ({self.target_id})'
        return f'account "{self.name}" ({self.target_id})'


@dataclass(frozen=True)
class Level:
    """One level of an account's SCP path, with the SCPs attached directly to that target.

    `target_type` is "ROOT" (id `r-...`), "ORGANIZATIONAL_UNIT" (id `ou-...`) or "ACCOUNT", as
    `ListPoliciesForTarget` and `ListParents` name them.
    """

    target_id: str
    target_type: str
    name: str
    policies: tuple[Policy, ...] = ()

    def __post_init__(self) -> None:
        if self.target_type not in _TARGET_TYPES:
            raise InvalidPath(
                f'level {self.target_id} has target type "{self.target_type}"; use one of {", ".join(_TARGET_TYPES)}'
            )
        policies = tuple(self.policies)
        for policy in policies:
            if not isinstance(policy, Policy):
                raise InvalidPath(f"level {self.target_id} lists {policy!r}; wrap each SCP in a Policy")
        object.__setattr__(self, "policies", policies)

    @property
    def ref(self) -> LevelRef:
        return LevelRef(target_id=self.target_id, target_type=self.target_type, name=self.name)


@dataclass(frozen=True)
class Request:
    """One API request to evaluate: action, resource ARN and request context.

    A condition key missing from `context` is absent from the request, which is not the same as
    an empty value: `aws:MultiFactorAuthPresent` is absent from requests signed with access keys.
    Keys are case-insensitive. The default resource "*" matches only statements whose `Resource`
    patterns match the literal string "*", so a statement scoped to particular resources is
    treated as not covering the request.
    """

    action: str
    resource: str = "*"
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    # The context with lower-case keys and tuple values, built from `context`.
    _values: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.action, str) or ":" not in self.action:
            raise InvalidRequest(f'action {self.action!r} is not of the form "service:ActionName"')
        values: dict[str, tuple[str, ...]] = {}
        for key, value in self.context.items():
            values[key.lower()] = _context_values(key, value)
        for key, key_type in SUPPORTED_CONDITION_KEYS.items():
            if key in values:
                _check_supported_value(key, key_type, values[key])
        object.__setattr__(self, "_values", values)

    def value_of(self, key: str) -> tuple[str, ...] | None:
        """Return the values of a condition key, or None when the request does not contain it."""
        return self._values.get(key.lower())


def _context_values(key: str, value: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise InvalidRequest(f"request context key {key} has value {value!r}; give a string or a list of strings")


def _check_supported_value(key: str, key_type: str, values: tuple[str, ...]) -> None:
    if len(values) != 1:
        raise InvalidRequest(f"request context key {key} is single-valued in AWS but has values {list(values)}")
    if key_type == "ip":
        try:
            ipaddress.ip_address(values[0])
        except ValueError:
            raise InvalidRequest(f"request context key {key} has {values[0]!r}, which is not an IP address") from None


@dataclass(frozen=True)
class StatementRef:
    """The location of one policy statement: the level, the SCP and the statement's Sid or position."""

    level: LevelRef
    policy_id: str
    policy_name: str
    # The statement's `Sid`, or None when it has none.
    sid: str | None
    # Position of the statement in the policy, from 1.
    index: int

    @property
    def label(self) -> str:
        """The statement's name within its policy: its Sid, or its position when it has none."""
        return f'statement "{self.sid}"' if self.sid else f"statement #{self.index}"

    def describe(self) -> str:
        return f'{self.label} of SCP "{self.policy_name}" ({self.policy_id}) attached to {self.level.describe()}'


@dataclass(frozen=True)
class Decision:
    """The SCP verdict on one request, with the statements or levels that decided it."""

    request: Request
    allowed: bool
    # Deny statements that match the request, in path order.
    denied_by: tuple[StatementRef, ...] = ()
    # Levels at which no Allow statement matches the request.
    missing_allow: tuple[LevelRef, ...] = ()
    # Statements with unsupported elements whose outcome could not change this decision.
    unevaluated: tuple[StatementRef, ...] = ()

    def describe(self) -> str:
        subject = f"{self.request.action} on {self.request.resource}"
        if self.allowed:
            return f"SCPs allow {subject}: every level has a matching Allow and no Deny matches."
        reasons = [f"denied by {ref.describe()}" for ref in self.denied_by]
        reasons += [f"no Allow at {level.describe()}" for level in self.missing_allow]
        text = f"SCPs deny {subject}: " + "; ".join(reasons) + "."
        if self.unevaluated:
            skipped = "; ".join(ref.describe() for ref in self.unevaluated)
            text += f" Not evaluated (unsupported elements, cannot change the outcome): {skipped}."
        return text


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Condition:
    """One (operator, key) pair of a Condition block, with its policy values prepared."""

    operator: str
    family: str
    if_exists: bool
    key: str
    # Values as strings, with "true"/"false" lower-cased for Bool and Null.
    values: tuple[str, ...]
    # Parsed CIDRs for the IP families.
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # ARN patterns split into their six colon-separated parts, for the ARN family.
    arn_patterns: tuple[tuple[str, ...], ...] = ()

    def is_satisfied(self, request: Request) -> bool:
        present = request.value_of(self.key)
        if self.family == "null":
            # Null true matches an absent key and Null false a present one. Several values are ORed.
            return any((value == "true") == (present is None) for value in self.values)
        if present is None:
            # AWS: a key missing from the request makes a condition false, except that ...IfExists
            # forms are true, and negated operators such as NotIpAddress are true (the request
            # has no value that the policy requires not to match). Source: IAM User Guide,
            # "IAM JSON policy elements: Condition operators".
            return self.if_exists or self.family == "not-ip"
        # Every supported key is single-valued, which Request checks.
        return self._matches(present[0])

    def _matches(self, value: str) -> bool:
        # Several values for one key are ORed, except that NotIpAddress needs the address in none.
        if self.family == "bool":
            return value.lower() in self.values
        if self.family == "string-equals":
            return value in self.values
        if self.family == "string-like":
            return any(_glob(pattern, ignore_case=False).fullmatch(value) for pattern in self.values)
        if self.family == "arn":
            return any(_arn_matches(pattern, value) for pattern in self.arn_patterns)
        address = ipaddress.ip_address(value)
        inside = any(address in network for network in self.networks)
        return inside if self.family == "ip" else not inside


@dataclass(frozen=True)
class _Unsupported:
    """A part of a statement that the evaluator cannot decide, so its outcome is unknown."""

    error: UnsupportedPolicyElement


@dataclass(frozen=True)
class _Statement:
    ref: StatementRef
    effect: str
    # Action patterns, and whether they come from NotAction.
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[_Condition | _Unsupported, ...]
    # Parts outside Condition that are unknown: unsupported elements, policy variables in Resource.
    unsupported: tuple[_Unsupported, ...]
    # Lower-case condition keys the statement names, unsupported ones included.
    condition_keys: frozenset[str]

    def covers(self, request: Request) -> bool:
        """Return whether Action/NotAction and Resource/NotResource select the request."""
        action_listed = any(_glob(pattern, ignore_case=True).fullmatch(request.action) for pattern in self.actions)
        if action_listed == self.not_action:
            return False
        resource_listed = any(
            _glob(pattern, ignore_case=False).fullmatch(request.resource) for pattern in self.resources
        )
        return resource_listed != self.not_resource

    def matches(self, request: Request) -> tuple[bool | None, tuple[UnsupportedPolicyElement, ...]]:
        """Return True, False or None (unknown) for the request, with the errors behind an unknown."""
        if not self.covers(request):
            return False, ()
        unknown = [part.error for part in self.unsupported]
        for condition in self.conditions:
            if isinstance(condition, _Unsupported):
                unknown.append(condition.error)
            elif not condition.is_satisfied(request):
                # One false condition decides the statement, whatever the unknown parts evaluate to.
                return False, ()
        if unknown:
            return None, tuple(unknown)
        return True, ()

    def source_ip_allow_list(self) -> tuple[str, ...]:
        """Return the CIDRs this statement lists under NotIpAddress(IfExists) for aws:SourceIp."""
        cidrs: list[str] = []
        for condition in self.conditions:
            if isinstance(condition, _Condition) and condition.family == "not-ip" and condition.key == _SOURCE_IP:
                cidrs.extend(condition.values)
        return tuple(cidrs)


def _parse_path(path: Sequence[Level]) -> list[tuple[LevelRef, list[_Statement]]]:
    _check_path(path)
    parsed = []
    for level in path:
        statements: list[_Statement] = []
        for policy in level.policies:
            statements.extend(_parse_policy(policy, level.ref))
        parsed.append((level.ref, statements))
    return parsed


def _check_path(path: Sequence[Level]) -> None:
    if not path:
        # No levels: the SCP policy type is not enabled on the organization root.
        return
    if len(path) < 2:
        raise InvalidPath(f"an SCP path needs the organization root and the account, got {len(path)} level(s)")
    types = [level.target_type for level in path]
    if types[0] != ROOT or types[-1] != ACCOUNT or any(kind != ORGANIZATIONAL_UNIT for kind in types[1:-1]):
        raise InvalidPath(
            f"an SCP path must run from ROOT through ORGANIZATIONAL_UNIT levels to ACCOUNT, got {' > '.join(types)}"
        )


def _parse_policy(policy: Policy, level: LevelRef) -> list[_Statement]:
    document = policy.document
    where = f'SCP "{policy.name}" ({policy.policy_id}) attached to {level.describe()}'
    if not isinstance(document, dict):
        raise InvalidPolicyDocument(
            f"{where} is a {type(document).__name__}, not a JSON object; pass the parsed document "
            "(Policy.from_content parses DescribePolicy's Content)"
        )
    if "Statement" not in document:
        raise InvalidPolicyDocument(f"{where} has no Statement element")
    unknown_elements = sorted(set(document) - _POLICY_ELEMENTS)
    if unknown_elements:
        raise InvalidPolicyDocument(f"{where} has unknown top-level element(s) {unknown_elements}")

    raw_statements = document["Statement"]
    # Statement may be one object or a list of them.
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise InvalidPolicyDocument(f"{where} has a Statement that is neither an object nor a non-empty list")
    return [
        _parse_statement(raw, StatementRef(level, policy.policy_id, policy.name, _sid(raw), index), policy, where)
        for index, raw in enumerate(raw_statements, start=1)
    ]


def _sid(raw: Any) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("Sid"), str) and raw["Sid"]:
        return raw["Sid"]
    return None


def _parse_statement(raw: Any, ref: StatementRef, policy: Policy, where: str) -> _Statement:
    name = f"{ref.label} of {where}"
    if not isinstance(raw, dict):
        raise InvalidPolicyDocument(f"{name} is not a JSON object")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise InvalidPolicyDocument(f'{name} has Effect {effect!r}; use "Allow" or "Deny"')

    actions, not_action = _pattern_element(raw, "Action", "NotAction", name)
    resources, not_resource = _pattern_element(raw, "Resource", "NotResource", name)

    unsupported = [
        _Unsupported(
            UnsupportedPolicyElement(f'the statement element "{element}"', policy, ref.level, f"in {ref.label}")
        )
        for element in sorted(set(raw) - _STATEMENT_ELEMENTS)
    ]
    for pattern in resources:
        if "${" in pattern:
            detail = f'{"NotResource" if not_resource else "Resource"} "{pattern}" in {ref.label}'
            unsupported.append(_Unsupported(UnsupportedPolicyElement("a policy variable", policy, ref.level, detail)))

    conditions, condition_keys = _parse_condition_block(raw.get("Condition", {}), ref, policy, name)
    return _Statement(
        ref=ref,
        effect=effect,
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        conditions=tuple(conditions),
        unsupported=tuple(unsupported),
        condition_keys=frozenset(condition_keys),
    )


def _pattern_element(raw: dict[str, Any], name: str, negated: str, where: str) -> tuple[tuple[str, ...], bool]:
    """Read Action/NotAction or Resource/NotResource: exactly one of the two must be present."""
    if (name in raw) == (negated in raw):
        raise InvalidPolicyDocument(f"{where} must have exactly one of {name} and {negated}")
    element = name if name in raw else negated
    value = raw[element]
    patterns = (value,) if isinstance(value, str) else value
    if not isinstance(patterns, (list, tuple)) or not patterns or not all(isinstance(item, str) for item in patterns):
        raise InvalidPolicyDocument(f"{where} has {element} {value!r}; give a string or a non-empty list of strings")
    return tuple(patterns), element == negated


def _parse_condition_block(
    block: Any, ref: StatementRef, policy: Policy, where: str
) -> tuple[list[_Condition | _Unsupported], set[str]]:
    if not isinstance(block, dict):
        raise InvalidPolicyDocument(f"{where} has a Condition that is not a JSON object")
    conditions: list[_Condition | _Unsupported] = []
    keys: set[str] = set()
    for operator, pairs in block.items():
        if not isinstance(pairs, dict) or not pairs:
            raise InvalidPolicyDocument(f'{where} has condition operator "{operator}" without a key-value object')
        keys.update(key.lower() for key in pairs)
        if operator not in SUPPORTED_OPERATORS:
            element = f'the condition operator "{operator}"'
            conditions.append(_Unsupported(UnsupportedPolicyElement(element, policy, ref.level, f"in {ref.label}")))
            continue
        for key, raw_values in pairs.items():
            conditions.append(_parse_condition(operator, key, raw_values, ref, policy, where))
    return conditions, keys


def _parse_condition(
    operator: str, key: str, raw_values: Any, ref: StatementRef, policy: Policy, where: str
) -> _Condition | _Unsupported:
    family, if_exists = SUPPORTED_OPERATORS[operator]
    lower_key = key.lower()
    statement = ref.label

    key_type = SUPPORTED_CONDITION_KEYS.get(lower_key)
    if key_type is None:
        detail = f'under "{operator}" in {statement}'
        return _Unsupported(UnsupportedPolicyElement(f'the condition key "{key}"', policy, ref.level, detail))
    if family not in _FAMILIES_BY_KEY_TYPE[key_type]:
        element = f'the condition operator "{operator}" on key "{key}"'
        return _Unsupported(UnsupportedPolicyElement(element, policy, ref.level, f"in {statement}"))

    values = _condition_values(raw_values, f'{where}, condition "{operator}" key "{key}"')
    for value in values:
        if "${" in value:
            detail = f'"{value}" under "{operator}" "{key}" in {statement}'
            return _Unsupported(UnsupportedPolicyElement("a policy variable", policy, ref.level, detail))

    if family in ("bool", "null"):
        values = tuple(value.lower() for value in values)
        if any(value not in ("true", "false") for value in values):
            raise InvalidPolicyDocument(f'{where}: "{operator}" on "{key}" takes true or false, got {list(values)}')
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    if family in ("ip", "not-ip"):
        networks = tuple(_network(value, f'{where}, condition "{operator}" key "{key}"') for value in values)
    arn_patterns: tuple[tuple[str, ...], ...] = ()
    if family == "arn":
        arn_patterns = tuple(value.split(":", 5) for value in values)
        for value, parts in zip(values, arn_patterns):
            if len(parts) != 6:
                # AWS compares the six ARN parts one by one. How it treats a shorter pattern is
                # not documented, so the evaluator does not guess.
                detail = f'"{operator}" value "{value}", which has fewer than six colon-separated parts, in {statement}'
                return _Unsupported(UnsupportedPolicyElement("an ARN pattern", policy, ref.level, detail))

    return _Condition(
        operator=operator,
        family=family,
        if_exists=if_exists,
        key=lower_key,
        values=values,
        networks=networks,
        arn_patterns=arn_patterns,
    )


def _condition_values(raw: Any, where: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise InvalidPolicyDocument(f"{where} has an empty value list")
    values = []
    for item in items:
        # JSON true/false become the strings AWS compares ("true"/"false").
        if isinstance(item, bool):
            values.append("true" if item else "false")
        elif isinstance(item, str):
            values.append(item)
        else:
            raise InvalidPolicyDocument(f"{where} has value {item!r}; use strings or booleans")
    return tuple(values)


def _network(value: str, where: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        # strict=False accepts host bits after the prefix ("203.0.113.5/24") and a bare address
        # (a /32 or /128), so the policy's range is read as written.
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise InvalidPolicyDocument(f"{where} has {value!r}, which is not an IP address or CIDR range") from None


# ---------------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """Compile an IAM wildcard pattern: `*` matches any run of characters, `?` exactly one."""
    parts = []
    # A run of `*` matches what one `*` matches; collapsing it keeps the regex from backtracking
    # exponentially on patterns such as "arn*****Z".
    pattern = re.sub(r"\*+", "*", pattern)
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def _arn_matches(pattern_parts: tuple[str, ...], value: str) -> bool:
    # ArnEquals and ArnLike behave the same in AWS: a case-sensitive match of each of the six
    # colon-separated ARN parts on its own, each allowing * and ?, so a wildcard never spans a
    # colon into the next part. The sixth part, the resource, runs to the end, colons and all.
    value_parts = value.split(":", 5)
    if len(value_parts) != 6:
        return False
    return all(_glob(pattern, ignore_case=False).fullmatch(part) for pattern, part in zip(pattern_parts, value_parts))


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def evaluate(path: Sequence[Level], request: Request) -> Decision:
    """Decide whether the SCPs on `path` let `request` through.

    `path` runs from the organization root through each OU to the account. A request passes only
    if every level has an SCP with a matching Allow statement and no level has a matching Deny.
    A level with no SCPs therefore allows nothing. An empty path stands for an organization whose
    root does not have the SCP policy type enabled, where SCPs restrict nothing. Raises UnsupportedPolicyElement when a statement
    that could change the decision uses something outside the supported subset, and
    InvalidPolicyDocument or InvalidPath for malformed input.
    """
    return _decide(_parse_path(path), request)


def _decide(parsed: list[tuple[LevelRef, list[_Statement]]], request: Request) -> Decision:
    denies: list[StatementRef] = []
    unknown_denies: list[tuple[StatementRef, UnsupportedPolicyElement]] = []
    missing: list[LevelRef] = []
    unknown_allows: list[tuple[StatementRef, UnsupportedPolicyElement]] = []

    for level, statements in parsed:
        allowed_here = False
        level_unknown_allows = []
        for statement in statements:
            outcome, errors = statement.matches(request)
            if statement.effect == "Deny":
                if outcome is True:
                    denies.append(statement.ref)
                elif outcome is None:
                    unknown_denies.append((statement.ref, errors[0]))
            elif outcome is True:
                allowed_here = True
            elif outcome is None:
                level_unknown_allows.append((statement.ref, errors[0]))
        if not allowed_here:
            if level_unknown_allows:
                unknown_allows.extend(level_unknown_allows)
            else:
                missing.append(level)

    unknown = unknown_denies + unknown_allows
    if denies or missing:
        # A supported Deny, or a level without any Allow, decides the request whatever the
        # unknown statements evaluate to.
        decision = Decision(
            request=request,
            allowed=False,
            denied_by=tuple(denies),
            missing_allow=tuple(missing),
            unevaluated=tuple(ref for ref, _ in unknown),
        )
        if unknown:
            logger.debug("%s (%d statement(s) not evaluated)", decision.describe(), len(unknown))
        return decision
    if unknown:
        raise unknown[0][1]
    return Decision(request=request, allowed=True)


# ---------------------------------------------------------------------------------------------
# Root probes
# ---------------------------------------------------------------------------------------------

# Actions every root probe tries: common IAM, data, compute, organization and key actions, plus a
# made-up action that no SCP names, to catch deny lists that only name particular actions.
SYNTHETIC_ACTION = "awscomplianceprobe:UnlistedAction"
PROBE_ACTIONS = (
    "iam:CreateUser",
    "s3:GetObject",
    "ec2:RunInstances",
    "organizations:LeaveOrganization",
    "iam:CreateAccessKey",
    "kms:Decrypt",
    SYNTHETIC_ACTION,
)

# Source addresses tried first when a probe needs an address outside the CIDRs of the path:
# documentation ranges (RFC 5737 and RFC 3849), which no real allow list should contain.
_CANDIDATE_ADDRESSES = {
    4: ("203.0.113.10", "198.51.100.10", "192.0.2.10"),
    6: ("2001:db8::10", "2001:db8:ffff::10"),
}

ENFORCED = "enforced"
CONSOLE_ONLY = "console-only"
NOT_ENFORCED = "not-enforced"

_CONSOLE = "console sign-in (aws:MultiFactorAuthPresent=false)"
_ACCESS_KEY = "access keys (aws:MultiFactorAuthPresent absent)"


def applies_to(organization_role: str | None) -> bool:
    """Return whether SCPs restrict an account, given its role in the organization.

    SCPs restrict member accounts, their root user included. They never apply to the management
    account, and an account outside any organization (role None) has no SCPs.
    """
    return organization_role == "member"


@dataclass(frozen=True)
class MfaEnforcement:
    """The verdict on whether the SCPs on a member account's path make its root user use MFA."""

    # "enforced", "console-only" or "not-enforced".
    status: str
    # Deny statements that matched the probes without MFA, each listed once.
    denying_statements: tuple[StatementRef, ...]
    message: str
    # True when the SCPs deny root every probed action even with MFA.
    root_denied_entirely: bool = False
    # Probed actions root can call without MFA, each with the request form it used.
    allowed_without_mfa: tuple[str, ...] = ()


@dataclass(frozen=True)
class IpRestriction:
    """The verdict on whether the SCPs on a member account's path confine root to allow-listed addresses."""

    restricted: bool
    # CIDRs allow-listed by the denying statements' NotIpAddress conditions on aws:SourceIp.
    cidrs: tuple[str, ...]
    # Deny statements with an aws:SourceIp condition that matched the probes, each listed once.
    denying_statements: tuple[StatementRef, ...]
    message: str
    # Source addresses the probes came from, each outside every CIDR named on the path.
    probe_addresses: tuple[str, ...] = ()


def _shown_actions(actions: Sequence[str]) -> str:
    """Name probe actions for a message; the synthetic one stands for every action no SCP names."""
    shown = [action for action in actions if action != SYNTHETIC_ACTION]
    if SYNTHETIC_ACTION in actions:
        shown.append("any action that no SCP names")
    if len(shown) > 1:
        return ", ".join(shown[:-1]) + " and " + shown[-1]
    return ", ".join(shown)


def root_mfa_enforcement(path: Sequence[Level], root_arn: str) -> MfaEnforcement:
    """Probe whether the SCPs on `path` deny the root user `root_arn` every action without MFA.

    Each probe action is tried as root without MFA in two forms: console-like, with
    aws:MultiFactorAuthPresent "false", and access-key-like, without that key. "enforced" means
    every probe is denied in both forms, "console-only" that only the console form is denied
    (typical of a plain Bool condition), and "not-enforced" anything else. A probe counts as
    denied only if it is denied from every source address tried: an ordinary address and one
    inside each NotIpAddress range on the path, so that an IP allow list is not mistaken for MFA
    enforcement. Must not be called for the management account (see `applies_to`).

    NOTE: AWS documents that for some accounts created before 2017-09-15, SCPs cannot stop root
    from changing its own MFA, password or access keys. The probes cannot detect that exception.
    """
    _check_root_arn(root_arn)
    if not path:
        return MfaEnforcement(NOT_ENFORCED, (), _scps_disabled_message(root_arn))
    parsed = _parse_path(path)
    addresses = _mfa_probe_addresses(parsed)

    console = _probe(parsed, root_arn, addresses, mfa="false")
    access_key = _probe(parsed, root_arn, addresses, mfa=None)
    denying = _unique(ref for result in (console, access_key) for ref in result.denied_by)
    allowed = tuple(f"{action} with {_CONSOLE}" for action in console.allowed_actions) + tuple(
        f"{action} with {_ACCESS_KEY}" for action in access_key.allowed_actions
    )

    if not console.allowed_actions and not access_key.allowed_actions:
        entirely = _denied_even_with_mfa(parsed, root_arn, addresses)
        message = _enforced_message(root_arn, denying, console.missing_allow + access_key.missing_allow, entirely)
        return MfaEnforcement(ENFORCED, denying, message, root_denied_entirely=entirely)
    if not console.allowed_actions:
        message = (
            f"SCPs deny root user {root_arn} without MFA only when a request carries "
            f"aws:MultiFactorAuthPresent=false, as console sign-ins do. Requests signed with access keys "
            f"carry no such key, so root can still call {_shown_actions(access_key.allowed_actions)} with access keys. "
            "A plain Bool condition behaves this way. Use BoolIfExists so that a missing key counts as no MFA. "
            f"Denying statements: {_describe_refs(denying)}."
        )
        return MfaEnforcement(CONSOLE_ONLY, denying, message, allowed_without_mfa=allowed)
    message = (
        f"No SCP on the path denies root user {root_arn} every action without MFA: root can call "
        f"{_shown_actions(console.allowed_actions)} after a console sign-in without MFA"
    )
    if access_key.allowed_actions:
        message += f", and {_shown_actions(access_key.allowed_actions)} with access keys"
    message += "."
    if denying:
        message += f" Statements that deny some probes: {_describe_refs(denying)}."
    return MfaEnforcement(NOT_ENFORCED, denying, message, allowed_without_mfa=allowed)


def root_ip_restriction(path: Sequence[Level], root_arn: str) -> IpRestriction:
    """Probe whether the SCPs on `path` deny the root user `root_arn` requests from outside an IP allow list.

    Each probe action is tried as root, with MFA (so an MFA SCP does not interfere) and
    aws:ViaAWSService "false", from one IPv4 and one IPv6 address outside every CIDR named in an
    aws:SourceIp condition on the path. Root is restricted when every probe is denied by a
    statement whose condition names aws:SourceIp. Must not be called for the management account
    (see `applies_to`).

    NOTE: an allow list can also be an Allow statement with IpAddress in place of FullAWSAccess.
    It denies through a missing Allow, and this probe does not count it as an IP restriction.
    """
    _check_root_arn(root_arn)
    if not path:
        return IpRestriction(False, (), (), _scps_disabled_message(root_arn))
    parsed = _parse_path(path)
    statements = {statement.ref: statement for _, level_statements in parsed for statement in level_statements}
    every_range = _source_ip_networks(parsed, ("ip", "not-ip"))
    allow_listed = _source_ip_networks(parsed, ("not-ip",))

    addresses = []
    for version in (4, 6):
        # Outside every range when possible, so that a Deny with IpAddress (a block list) does not
        # pass for an allow list. Failing that, outside the allow lists: the block lists then cover
        # every remaining address, and a probe denied by them is denied from anywhere.
        address = _address_outside(every_range, version) or _address_outside(allow_listed, version)
        if address is None:
            message = (
                f"The aws:SourceIp conditions on the path cover every IPv{version} address, so no SCP confines "
                f"root user {root_arn} to an IP allow list."
            )
            return IpRestriction(False, (), (), message)
        addresses.append(address)

    ip_denies: list[StatementRef] = []
    other_denies: list[StatementRef] = []
    open_actions: list[str] = []
    open_addresses: list[str] = []
    # Every form of request: with MFA, a console session without it, and an access key (no key).
    for mfa in ("true", "false", None):
        for address in addresses:
            for action, resource in _probe_requests(parsed):
                decision = _decide(parsed, Request(action, resource, _root_context(root_arn, address, mfa=mfa)))
                found = [ref for ref in decision.denied_by if _SOURCE_IP in statements[ref].condition_keys]
                if not found:
                    _raise_if_ip_statement_unevaluated(decision, statements)
                    open_actions.append(action if resource == "*" else f"{action} on {resource}")
                    open_addresses.append(address)
                    other_denies.extend(decision.denied_by)
                ip_denies.extend(found)

    denying = _unique(ip_denies)
    cidrs = _unique(cidr for ref in denying for cidr in statements[ref].source_ip_allow_list())
    if open_actions:
        message = (
            f"No SCP confines root user {root_arn} to an IP allow list. Requests from "
            f"{' or '.join(_unique(open_addresses))} (documentation addresses chosen outside every allow list "
            "on the path) are not denied by any statement with an aws:SourceIp condition, for these probed "
            f"actions: {_shown_actions(_unique(open_actions))}."
        )
        if other_denies:
            others = _describe_refs(_unique(other_denies))
            message += f" Statements without an aws:SourceIp condition deny some of them: {others}."
        return IpRestriction(False, cidrs, denying, message, tuple(addresses))
    message = (
        f"SCPs deny root user {root_arn} every probed action from outside the allowed CIDRs "
        f"{', '.join(cidrs) or '(none listed under NotIpAddress)'} (probed from {', '.join(addresses)}): "
        f"{_describe_refs(denying)}."
    )
    return IpRestriction(True, cidrs, denying, message, tuple(addresses))


@dataclass(frozen=True)
class _ProbeResult:
    # Actions that at least one tried source address lets through.
    allowed_actions: tuple[str, ...]
    denied_by: tuple[StatementRef, ...]
    missing_allow: tuple[LevelRef, ...]


def _probe(
    parsed: list[tuple[LevelRef, list[_Statement]]], root_arn: str, addresses: Sequence[str], mfa: str | None
) -> _ProbeResult:
    allowed: list[str] = []
    denied_by: list[StatementRef] = []
    missing: list[LevelRef] = []
    for action, resource in _probe_requests(parsed):
        for address in addresses:
            decision = _decide(parsed, Request(action, resource, _root_context(root_arn, address, mfa)))
            # Only an explicit Deny counts. A missing Allow for the probe proves nothing about the
            # actions and resources that the path's Allow statements do let through.
            if not decision.denied_by:
                allowed.append(action if resource == "*" else f"{action} on {resource}")
                break
            denied_by.extend(decision.denied_by)
            missing.extend(decision.missing_allow)
    return _ProbeResult(tuple(_unique(allowed)), _unique(denied_by), _unique(missing))


def _probe_requests(parsed: list[tuple[LevelRef, list[_Statement]]]) -> list[tuple[str, str]]:
    """Return the (action, resource) pairs to probe: the fixed actions on every resource, plus
    the actions and resources that a Deny's NotAction or NotResource exempts, which the fixed
    probes would never try."""
    actions = list(PROBE_ACTIONS)
    resources = ["*"]
    for _, statements in parsed:
        for statement in statements:
            if statement.effect != "Deny":
                continue
            if statement.not_action:
                actions += [_example_of(pattern) for pattern in statement.actions if not _is_mfa_setup(pattern)]
            if statement.not_resource:
                resources += [_example_of(pattern) for pattern in statement.resources]
    return [(action, resource) for action in _unique(actions) for resource in _unique(resources)]


# Actions that an MFA-requiring Deny commonly exempts so that a principal without MFA can enroll a
# device (AWS's "manage your own MFA" example policies). Exempting them leaves root able to set up
# MFA, not to act, so they are not probed as gaps.
MFA_SETUP_ACTIONS = frozenset(
    action.lower()
    for action in (
        "iam:CreateVirtualMFADevice",
        "iam:EnableMFADevice",
        "iam:ListMFADevices",
        "iam:ListVirtualMFADevices",
        "iam:ResyncMFADevice",
        "iam:GetUser",
        "iam:ChangePassword",
        "iam:GetAccountPasswordPolicy",
        "sts:GetSessionToken",
    )
)


def _is_mfa_setup(pattern: str) -> bool:
    return "*" not in pattern and "?" not in pattern and pattern.lower() in MFA_SETUP_ACTIONS


def _example_of(pattern: str) -> str:
    """Return a concrete value that a wildcard pattern matches."""
    return pattern.replace("*", "probe").replace("?", "x")


def _denied_even_with_mfa(
    parsed: list[tuple[LevelRef, list[_Statement]]], root_arn: str, addresses: Sequence[str]
) -> bool:
    try:
        return not _probe(parsed, root_arn, addresses, mfa="true").allowed_actions
    except UnsupportedPolicyElement as error:
        # This probe only sharpens the message, so an unknown outcome here claims nothing.
        logger.debug("cannot tell whether SCPs deny root even with MFA: %s", error)
        return False


def _root_context(root_arn: str, source_ip: str, mfa: str | None) -> dict[str, str]:
    # A direct root request: no aws:AssumedRoot key, which only centralized root sessions carry.
    context = {
        "aws:PrincipalArn": root_arn,
        "aws:ViaAWSService": "false",
        "aws:SourceIp": source_ip,
    }
    if mfa is not None:
        context["aws:MultiFactorAuthPresent"] = mfa
    return context


def _mfa_probe_addresses(parsed: list[tuple[LevelRef, list[_Statement]]]) -> list[str]:
    """Return an ordinary source address plus one inside each NotIpAddress range on the path."""
    ranges = _source_ip_networks(parsed, ("ip", "not-ip"))
    # One ordinary address of each family: a condition may cover only IPv4, or only IPv6.
    addresses = [_address_outside(ranges, version) or _CANDIDATE_ADDRESSES[version][0] for version in (4, 6)]
    for network in _source_ip_networks(parsed, ("not-ip",)):
        # The first host address, or the only address of a /32 or /128.
        host = network.network_address + 1 if network.num_addresses > 2 else network.network_address
        addresses.append(str(host))
    return list(_unique(addresses))


def _source_ip_networks(
    parsed: list[tuple[LevelRef, list[_Statement]]], families: tuple[str, ...]
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Return the ranges that aws:SourceIp conditions of the given operator families name on the path."""
    return [
        network
        for _, statements in parsed
        for statement in statements
        for condition in statement.conditions
        if isinstance(condition, _Condition) and condition.key == _SOURCE_IP and condition.family in families
        for network in condition.networks
    ]


def _address_outside(networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network], version: int) -> str | None:
    """Return an address of the IP version outside every network, or None when they cover all."""
    same_family = [network for network in networks if network.version == version]
    for candidate in _CANDIDATE_ADDRESSES[version]:
        address = ipaddress.ip_address(candidate)
        if not any(address in network for network in same_family):
            return candidate

    # Walk the merged ranges in order. The first gap is an address outside all of them.
    address_class = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    last = (1 << (32 if version == 4 else 128)) - 1
    cursor = 1
    for network in ipaddress.collapse_addresses(same_family):
        start, end = int(network.network_address), int(network.broadcast_address)
        if start > cursor:
            break
        cursor = max(cursor, end + 1)
    if cursor > last:
        return None
    return str(address_class(cursor))


def _raise_if_ip_statement_unevaluated(decision: Decision, statements: Mapping[StatementRef, _Statement]) -> None:
    """Raise when an unevaluated statement with an aws:SourceIp condition might have denied the probe."""
    for ref in decision.unevaluated:
        statement = statements[ref]
        if statement.effect == "Deny" and _SOURCE_IP in statement.condition_keys:
            _, errors = statement.matches(decision.request)
            if errors:
                raise errors[0]


def _enforced_message(
    root_arn: str, denying: tuple[StatementRef, ...], missing: tuple[LevelRef, ...], entirely: bool
) -> str:
    causes = [ref.describe() for ref in denying] + [f"no Allow at {level.describe()}" for level in _unique(missing)]
    if entirely:
        return (
            f"SCPs deny root user {root_arn} every probed action even with MFA, so root is denied entirely "
            f"and cannot act at all: {'; '.join(causes)}."
        )
    return (
        f"SCPs deny root user {root_arn} every probed action without MFA, after a console sign-in and with "
        f"access keys alike: {'; '.join(causes)}."
    )


def _scps_disabled_message(root_arn: str) -> str:
    return (
        f"No SCP restricts root user {root_arn}: the SCP policy type is not enabled on the organization root, "
        "so SCPs allow every request."
    )


def _check_root_arn(root_arn: str) -> None:
    if not _ROOT_ARN.match(root_arn):
        raise InvalidRequest(f'root ARN {root_arn!r} is not of the form "arn:<partition>:iam::<12-digit id>:root"')


def _describe_refs(refs: Sequence[StatementRef]) -> str:
    return "; ".join(ref.describe() for ref in refs) or "none"


def _unique(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))
