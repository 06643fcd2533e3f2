"""Evidence for the root-use detection controls, and its live collection.

A CIS root-use alarm is a chain of resources. A CloudTrail trail delivers events to a CloudWatch
Logs log group, and a metric filter on that group counts root events into a metric. A CloudWatch
alarm watches the metric and notifies an SNS topic, to which someone has confirmed a subscription.
`collect_detection` reads every link of that chain, plus the region's GuardDuty detectors
and AWS Config rules, into frozen dataclasses. They hold no boto3 objects, so they can be saved as
JSON (`detection_to_dict`), loaded again (`detection_from_dict`) and judged offline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from awscompliance.accounts import AuditSession
from awscompliance.aws_errors import AWS_ERRORS, TRANSPORT_ERRORS, error_code, error_message, permission_advice

logger = logging.getLogger(__name__)

# AWS Config rule states of a rule that is being removed and no longer evaluates.
_DELETING_RULE_STATES = frozenset({"DELETING", "DELETING_RESULTS"})


class DetectionEvidenceError(ValueError):
    """A saved detection evidence dictionary is malformed. The message names the field."""


@dataclass(frozen=True)
class Trail:
    """One CloudTrail trail as `DescribeTrails`, `GetTrailStatus` and `GetEventSelectors` show it."""

    name: str
    arn: str
    # Region where the trail was created. A multi-Region trail also shows in every other region.
    home_region: str
    is_multi_region: bool
    is_organization_trail: bool
    # `arn:<partition>:logs:<region>:<account>:log-group:<name>:*`, or None when the trail does
    # not deliver to CloudWatch Logs.
    cloudwatch_logs_log_group_arn: str | None = None
    # `GetTrailStatus` `IsLogging`, or None when not read. `is_logging_error` then contains the
    # reason when the call failed.
    is_logging: bool | None = None
    is_logging_error: str | None = None
    # Whether the event selectors capture both read and write management events, or None when
    # not read. `event_selectors_error` then contains the reason when the call failed.
    captures_management_events: bool | None = None
    event_selectors_error: str | None = None
    # The selectors in words, for messages, e.g. "EventSelectors capture only read management events".
    event_selectors_summary: str | None = None

    @property
    def account_id(self) -> str | None:
        """Account that owns the trail, read from its ARN."""
        return _arn_account(self.arn)


@dataclass(frozen=True)
class MetricFilter:
    """One CloudWatch Logs metric filter and the metrics it publishes."""

    log_group_name: str
    # Region of the log group, where the filter's metrics are published.
    region: str
    filter_name: str
    pattern: str
    # (metric namespace, metric name) of each metric transformation.
    metrics: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Alarm:
    """One CloudWatch metric alarm that watches a metric published by a collected metric filter."""

    name: str
    region: str
    # Namespace and name of the watched metric. For a metric math alarm, those of the input metric that matched.
    namespace: str | None
    metric_name: str | None
    # ARNs the alarm notifies when it enters the ALARM state.
    alarm_actions: tuple[str, ...]
    # `ActionsEnabled`: when false, the alarm changes state but sends no notification.
    actions_enabled: bool
    # Whether one root event (metric value 1) puts the alarm in ALARM: no dimensions, and a
    # comparison of >= 1 or > a threshold below 1. None for metric math alarms, which are not judged.
    fires_on_one_event: bool | None = True
    # The alarm's condition as written, for messages, e.g. "GreaterThanOrEqualToThreshold 1.0".
    condition: str = ""


@dataclass(frozen=True)
class Subscription:
    """One subscription to an SNS topic that an alarm notifies."""

    topic_arn: str
    protocol: str
    endpoint: str
    # False while SubscriptionArn is "PendingConfirmation": SNS delivers nothing to it yet.
    confirmed: bool


@dataclass(frozen=True)
class GuardDutyDetector:
    """One GuardDuty detector of the region."""

    detector_id: str
    # `GetDetector` `Status`, "ENABLED" or "DISABLED", or None when GetDetector failed.
    status: str | None


@dataclass(frozen=True)
class DetectionEvidence:
    """What the detection controls need from one account and region.

    Each list is None when it was not collected. The matching `*_error` then names the call
    that failed and the permission to grant. A list can also be partial, with its error set, when
    one of several calls behind it failed.
    """

    # The account's home Region, where GuardDuty and AWS Config are judged.
    region: str
    # Account whose credentials collected the evidence (`GetCallerIdentity`); None when unknown.
    account_id: str | None = None
    # Trails visible in `region`, including multi-Region and organization trails created elsewhere.
    trails: list[Trail] | None = None
    trails_error: str | None = None
    # Metric filters of the log groups that this account's trails deliver to.
    metric_filters: list[MetricFilter] | None = None
    metric_filters_error: str | None = None
    # Alarms on the metrics of `metric_filters`.
    alarms: list[Alarm] | None = None
    alarms_error: str | None = None
    # Subscriptions of the SNS topics that `alarms` notify.
    subscriptions: list[Subscription] | None = None
    subscriptions_error: str | None = None
    guardduty_detectors: list[GuardDutyDetector] | None = None
    guardduty_error: str | None = None
    # `Source.SourceIdentifier` of each AWS managed Config rule in `region`, e.g. ROOT_ACCOUNT_MFA_ENABLED.
    config_rules: list[str] | None = None
    config_rules_error: str | None = None


class LogGroupRef(NamedTuple):
    """The parts of a CloudWatch Logs log group ARN."""

    region: str
    account_id: str
    name: str


def parse_log_group_arn(arn: str) -> LogGroupRef | None:
    """Split `arn:<partition>:logs:<region>:<account>:log-group:<name>[:*]` into its parts.

    Return None when `arn` is not a log group ARN.
    """
    # Log group names cannot contain ":", so the name is the seventh field.
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "logs" or parts[5] != "log-group" or not parts[6]:
        return None
    return LogGroupRef(region=parts[3], account_id=parts[4], name=parts[6])


def is_sns_topic_arn(arn: str) -> bool:
    """Tell whether an alarm action is an SNS topic (`arn:<partition>:sns:<region>:<account>:<name>`)."""
    parts = arn.split(":")
    return len(parts) == 6 and parts[0] == "arn" and parts[2] == "sns"


def collect_detection(session: AuditSession, region: str, account_id: str | None = None) -> DetectionEvidence:
    """Read the detection evidence of the session's account, with `region` as its home Region.

    `account_id` is the session's account when the caller knows it already; otherwise it is
    read from STS. Clients take the session's default configuration (`accounts.client_config`).

    Never raises for an expected failure: a failed call (any of `aws_errors.AWS_ERRORS`) sets the
    matching `*_error`, and collection goes on with the other calls.
    """
    clients = _Clients(session)
    if account_id is None:
        account_id = _caller_account(clients, region)

    trails, trails_error = _collect_trails(clients, region, account_id)
    if trails is None:
        # Without the trails there is no log group to read filters, alarms or topics from.
        metric_filters = alarms = subscriptions = None
        metric_filters_error = alarms_error = subscriptions_error = None
    else:
        metric_filters, metric_filters_error = _collect_metric_filters(clients, trails, account_id)
        alarms, alarms_error = _collect_alarms(clients, metric_filters)
        subscriptions, subscriptions_error = _collect_subscriptions(clients, alarms)

    guardduty_detectors, guardduty_error = _collect_guardduty(clients, region)
    config_rules, config_rules_error = _collect_config_rules(clients, region)

    return DetectionEvidence(
        region=region,
        account_id=account_id,
        trails=trails,
        trails_error=trails_error,
        metric_filters=metric_filters,
        metric_filters_error=metric_filters_error,
        alarms=alarms,
        alarms_error=alarms_error,
        subscriptions=subscriptions,
        subscriptions_error=subscriptions_error,
        guardduty_detectors=guardduty_detectors,
        guardduty_error=guardduty_error,
        config_rules=config_rules,
        config_rules_error=config_rules_error,
    )


class _Clients:
    """boto3 clients of one session, one per service and region, created on first use."""

    def __init__(self, session: AuditSession) -> None:
        self._session = session
        self._clients: dict[tuple[str, str], Any] = {}

    def get(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._session.client(service, region_name=region)
        return self._clients[key]


def _caller_account(clients: _Clients, region: str) -> str | None:
    try:
        return clients.get("sts", region).get_caller_identity()["Account"]
    except AWS_ERRORS as error:
        # Without the account id, every trail is treated as this account's own.
        logger.warning("%s", _call_failed("sts", "GetCallerIdentity", region, error))
        return None


def _collect_trails(clients: _Clients, region: str, account_id: str | None) -> tuple[list[Trail] | None, str | None]:
    try:
        # Shadow trails are multi-Region and organization trails whose home is another region or
        # account. They show only with includeShadowTrails=True.
        response = clients.get("cloudtrail", region).describe_trails(includeShadowTrails=True)
    except AWS_ERRORS as error:
        message = _call_failed("cloudtrail", "DescribeTrails", region, error)
        logger.warning("%s", message)
        return None, message
    return [_read_trail(clients, raw, region, account_id) for raw in response.get("trailList", [])], None


def _read_trail(clients: _Clients, raw: dict[str, Any], region: str, account_id: str | None) -> Trail:
    trail = Trail(
        name=raw["Name"],
        arn=raw["TrailARN"],
        home_region=raw.get("HomeRegion", region),
        is_multi_region=bool(raw.get("IsMultiRegionTrail", False)),
        is_organization_trail=bool(raw.get("IsOrganizationTrail", False)),
        cloudwatch_logs_log_group_arn=raw.get("CloudWatchLogsLogGroupArn"),
    )
    if account_id is not None and trail.account_id != account_id:
        # An organization trail seen from a member account belongs to the management account,
        # which reads its status and selectors when its own evidence is collected.
        logger.debug(
            "trail %s belongs to account %s; its status is not read from %s", trail.arn, trail.account_id, account_id
        )
        return trail

    # A trail's status and selectors are read in its home region, where the ARN names the trail.
    cloudtrail = clients.get("cloudtrail", trail.home_region)
    try:
        is_logging: bool | None = bool(cloudtrail.get_trail_status(Name=trail.arn)["IsLogging"])
        is_logging_error = None
    except AWS_ERRORS as error:
        is_logging = None
        is_logging_error = _call_failed("cloudtrail", "GetTrailStatus", trail.home_region, error, trail.arn)
        logger.warning("%s", is_logging_error)

    try:
        selectors = cloudtrail.get_event_selectors(TrailName=trail.arn)
        captures, summary = management_event_coverage(selectors, bool(raw.get("HasCustomEventSelectors", False)))
        selectors_error = None
    except AWS_ERRORS as error:
        captures, summary = None, None
        selectors_error = _call_failed("cloudtrail", "GetEventSelectors", trail.home_region, error, trail.arn)
        logger.warning("%s", selectors_error)

    return replace(
        trail,
        is_logging=is_logging,
        is_logging_error=is_logging_error,
        captures_management_events=captures,
        event_selectors_error=selectors_error,
        event_selectors_summary=summary,
    )


def management_event_coverage(response: dict[str, Any], has_custom_selectors: bool = True) -> tuple[bool, str]:
    """Judge a `GetEventSelectors` response: do its selectors capture read and write management events?

    Return whether they do, and the selectors in words. `has_custom_selectors` is
    `DescribeTrails` `HasCustomEventSelectors`.
    """
    basic = response.get("EventSelectors") or []
    advanced = response.get("AdvancedEventSelectors") or []
    if advanced:
        sides = _advanced_selector_sides(advanced)
        kind = "AdvancedEventSelectors"
    elif basic:
        sides = _basic_selector_sides(basic)
        kind = "EventSelectors"
    elif not has_custom_selectors:
        # A trail without custom selectors uses CloudTrail's default, which logs all read and
        # write management events.
        return True, "the trail has no custom event selectors, so it logs all read and write management events"
    else:
        return False, "GetEventSelectors returned no event selectors, so the trail logs no management events"

    return sides == {"read", "write"}, f"{kind} capture {_describe_sides(sides)} management events"


def _basic_selector_sides(selectors: Iterable[dict[str, Any]]) -> set[str]:
    sides: set[str] = set()
    for selector in selectors:
        # Both fields default to logging all management events when absent.
        if not selector.get("IncludeManagementEvents", True):
            continue
        read_write = selector.get("ReadWriteType", "All")
        if read_write in ("All", "ReadOnly"):
            sides.add("read")
        if read_write in ("All", "WriteOnly"):
            sides.add("write")
    return sides


def _advanced_selector_sides(selectors: Iterable[dict[str, Any]]) -> set[str]:
    """Return which sides, read and write, the management selectors cover together."""
    sides: set[str] = set()
    for selector in selectors:
        field_selectors = {field["Field"]: field for field in selector.get("FieldSelectors", [])}
        category = field_selectors.get("eventCategory", {})
        if "Management" not in category.get("Equals", []):
            continue
        # readOnly=true selects read events and readOnly=false selects write events. A selector
        # without a readOnly field selects both.
        read_only = field_selectors.get("readOnly")
        if read_only is None:
            sides |= {"read", "write"}
            continue
        for value in read_only.get("Equals", []):
            sides.add("read" if value.lower() == "true" else "write")
        for value in read_only.get("NotEquals", []):
            sides.add("write" if value.lower() == "true" else "read")
    # NOTE: management events excluded by source (an eventSource NotEquals field selector, or
    # ExcludeManagementEventSources) are ignored here. Root calls to those APIs (KMS, RDS Data
    # API) are then not logged, yet the selector still counts as capturing management events.
    return sides


def _describe_sides(sides: set[str]) -> str:
    if sides == {"read", "write"}:
        return "read and write"
    if sides == {"read"}:
        return "only read"
    if sides == {"write"}:
        return "only write"
    return "no"


def _collect_metric_filters(
    clients: _Clients, trails: list[Trail], account_id: str | None
) -> tuple[list[MetricFilter], str | None]:
    log_groups = _own_log_groups(trails, account_id)
    filters: list[MetricFilter] = []
    errors: list[str] = []
    for group in log_groups:
        try:
            pages = (
                clients.get("logs", group.region)
                .get_paginator("describe_metric_filters")
                .paginate(logGroupName=group.name)
            )
            filters += [_read_metric_filter(raw, group) for page in pages for raw in page.get("metricFilters", [])]
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                # The trail delivers to a log group that no longer exists, so there are no filters.
                logger.info("log group %s in %s does not exist", group.name, group.region)
                continue
            errors.append(_call_failed("logs", "DescribeMetricFilters", group.region, error, group.name))
        except TRANSPORT_ERRORS as error:
            errors.append(_call_failed("logs", "DescribeMetricFilters", group.region, error, group.name))
    return filters, _joined(errors)


def _own_log_groups(trails: list[Trail], account_id: str | None) -> list[LogGroupRef]:
    groups: set[LogGroupRef] = set()
    for trail in trails:
        group = parse_log_group_arn(trail.cloudwatch_logs_log_group_arn or "")
        # Another account's log group, such as an organization trail's in the management
        # account, cannot be read from here.
        if group is not None and (account_id is None or group.account_id == account_id):
            groups.add(group)
    return sorted(groups)


def _read_metric_filter(raw: dict[str, Any], group: LogGroupRef) -> MetricFilter:
    return MetricFilter(
        log_group_name=raw.get("logGroupName", group.name),
        region=group.region,
        filter_name=raw["filterName"],
        pattern=raw.get("filterPattern", ""),
        metrics=tuple(
            (transformation["metricNamespace"], transformation["metricName"])
            for transformation in raw.get("metricTransformations", [])
            # A transformation that publishes 0 (or a value below 1) for each root event never
            # reaches an alarm threshold of 1, so it does not count as a root-use metric.
            if _publishes_at_least_one(transformation.get("metricValue"))
        ),
    )


def _publishes_at_least_one(value: Any) -> bool:
    try:
        return float(value) >= 1
    except (TypeError, ValueError):
        return False  # a value taken from the event ($.field) cannot be judged


def _collect_alarms(clients: _Clients, metric_filters: list[MetricFilter]) -> tuple[list[Alarm], str | None]:
    # Alarms live in the region of the metric they watch, which is the log group's region.
    watched: dict[str, set[tuple[str, str]]] = {}
    for metric_filter in metric_filters:
        watched.setdefault(metric_filter.region, set()).update(metric_filter.metrics)

    alarms: list[Alarm] = []
    errors: list[str] = []
    for region, metrics in sorted(watched.items()):
        try:
            pages = (
                clients.get("cloudwatch", region).get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
            )
            for page in pages:
                # Only alarms on a filter's metric matter; the rest are left out of the evidence.
                alarms += [
                    alarm for raw in page.get("MetricAlarms", []) if (alarm := _read_alarm(raw, region, metrics))
                ]
        except AWS_ERRORS as error:
            errors.append(_call_failed("cloudwatch", "DescribeAlarms", region, error))
    return alarms, _joined(errors)


def _read_alarm(raw: dict[str, Any], region: str, metrics: set[tuple[str, str]]) -> Alarm | None:
    """Return the alarm when it watches one of `metrics`, directly or as a metric math input."""
    candidates = [(raw.get("Namespace"), raw.get("MetricName"))]
    for query in raw.get("Metrics", []):
        metric = query.get("MetricStat", {}).get("Metric", {})
        candidates.append((metric.get("Namespace"), metric.get("MetricName")))

    for namespace, metric_name in candidates:
        if (namespace, metric_name) in metrics:
            return Alarm(
                name=raw["AlarmName"],
                region=region,
                namespace=namespace,
                metric_name=metric_name,
                alarm_actions=tuple(raw.get("AlarmActions", [])),
                actions_enabled=bool(raw.get("ActionsEnabled", True)),
                fires_on_one_event=_fires_on_one_event(raw),
                condition=f"{raw.get('ComparisonOperator')} {raw.get('Threshold')}",
            )
    return None


def _fires_on_one_event(raw: dict[str, Any]) -> bool | None:
    """Return whether a single root event, which the metric filter counts as 1, triggers the alarm."""
    if raw.get("Metrics"):
        return None  # NOTE: metric math alarms are not evaluated, so they are not trusted either
    if raw.get("Dimensions"):
        return False  # the metric filter publishes no dimensions, so the alarm's metric stays empty
    operator = raw.get("ComparisonOperator")
    threshold = raw.get("Threshold")
    if not isinstance(threshold, (int, float)):
        return False
    if operator == "GreaterThanOrEqualToThreshold":
        return threshold <= 1
    if operator == "GreaterThanThreshold":
        return threshold < 1
    return False


def _collect_subscriptions(clients: _Clients, alarms: list[Alarm]) -> tuple[list[Subscription], str | None]:
    topics = sorted({action for alarm in alarms for action in alarm.alarm_actions if is_sns_topic_arn(action)})
    subscriptions: list[Subscription] = []
    errors: list[str] = []
    for topic in topics:
        topic_region = topic.split(":")[3]
        try:
            pages = (
                clients.get("sns", topic_region).get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
            )
            subscriptions += [_read_subscription(raw, topic) for page in pages for raw in page.get("Subscriptions", [])]
        except AWS_ERRORS as error:
            errors.append(_call_failed("sns", "ListSubscriptionsByTopic", topic_region, error, topic))
    return subscriptions, _joined(errors)


def _read_subscription(raw: dict[str, Any], topic: str) -> Subscription:
    # An unconfirmed subscription shows SubscriptionArn "PendingConfirmation" instead of an ARN.
    # Anything but an ARN counts as unconfirmed.
    return Subscription(
        topic_arn=raw.get("TopicArn", topic),
        protocol=raw.get("Protocol", ""),
        endpoint=raw.get("Endpoint", ""),
        confirmed=str(raw.get("SubscriptionArn", "")).startswith("arn:"),
    )


def _collect_guardduty(clients: _Clients, region: str) -> tuple[list[GuardDutyDetector] | None, str | None]:
    guardduty = clients.get("guardduty", region)
    try:
        pages = guardduty.get_paginator("list_detectors").paginate()
        detector_ids = [detector_id for page in pages for detector_id in page.get("DetectorIds", [])]
    except AWS_ERRORS as error:
        message = _call_failed("guardduty", "ListDetectors", region, error)
        logger.warning("%s", message)
        return None, message

    detectors: list[GuardDutyDetector] = []
    errors: list[str] = []
    for detector_id in detector_ids:
        try:
            status = guardduty.get_detector(DetectorId=detector_id).get("Status")
        except AWS_ERRORS as error:
            status = None
            errors.append(_call_failed("guardduty", "GetDetector", region, error, detector_id))
        detectors.append(GuardDutyDetector(detector_id=detector_id, status=status))
    return detectors, _joined(errors)


def _collect_config_rules(clients: _Clients, region: str) -> tuple[list[str] | None, str | None]:
    try:
        pages = clients.get("config", region).get_paginator("describe_config_rules").paginate()
        rules = [rule for page in pages for rule in page.get("ConfigRules", [])]
    except AWS_ERRORS as error:
        message = _call_failed("config", "DescribeConfigRules", region, error)
        logger.warning("%s", message)
        return None, message

    # Owner AWS marks a managed rule, and its SourceIdentifier names the rule. A custom rule's
    # SourceIdentifier is a Lambda ARN or absent.
    return [
        rule["Source"]["SourceIdentifier"]
        for rule in rules
        if rule.get("Source", {}).get("Owner") == "AWS"
        and "SourceIdentifier" in rule["Source"]
        and rule.get("ConfigRuleState") not in _DELETING_RULE_STATES
    ], None


def _call_failed(
    service: str, operation: str, region: str, error: Exception, resource: str | None = None
) -> str:
    """Describe a failed call: which call, in which region and on what, the AWS error and what to do."""
    target = f" for {resource}" if resource else ""
    where = f"{operation} in {region}{target}"
    # The IAM action of each call here is the botocore service name, a colon and the operation.
    permission = f"{service}:{operation}"
    if isinstance(error, TRANSPORT_ERRORS):
        return f"{where} failed: {str(error).rstrip('.')}. Check the network and the AWS configuration, then re-run."

    advice = permission_advice(error, permission, "the audit identity")
    return f"{where} failed: {error_code(error)}: {error_message(error)}. {advice}"


def _joined(errors: list[str]) -> str | None:
    for error in errors:
        logger.warning("%s", error)
    return " ".join(errors) if errors else None


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


# Saving and loading


def detection_to_dict(evidence: DetectionEvidence) -> dict[str, Any]:
    """Convert detection evidence to a dictionary of JSON types, for saving and loading offline."""
    return _to_json(evidence)


def detection_from_dict(data: dict[str, Any]) -> DetectionEvidence:
    """Rebuild detection evidence from `detection_to_dict`'s output.

    Raises DetectionEvidenceError naming the first field that is missing or of the wrong type.
    """
    _require_mapping(data, "detection")
    return DetectionEvidence(
        region=_field(data, "region", str, "detection"),
        account_id=_optional(data, "account_id", str, "detection"),
        trails=_items(data, "trails", _trail_from_dict),
        trails_error=_optional(data, "trails_error", str, "detection"),
        metric_filters=_items(data, "metric_filters", _metric_filter_from_dict),
        metric_filters_error=_optional(data, "metric_filters_error", str, "detection"),
        alarms=_items(data, "alarms", _alarm_from_dict),
        alarms_error=_optional(data, "alarms_error", str, "detection"),
        subscriptions=_items(data, "subscriptions", _subscription_from_dict),
        subscriptions_error=_optional(data, "subscriptions_error", str, "detection"),
        guardduty_detectors=_items(data, "guardduty_detectors", _detector_from_dict),
        guardduty_error=_optional(data, "guardduty_error", str, "detection"),
        config_rules=_strings(data, "config_rules"),
        config_rules_error=_optional(data, "config_rules_error", str, "detection"),
    )


def _to_json(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {field.name: _to_json(getattr(value, field.name)) for field in fields(value)}
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    return value


def _trail_from_dict(data: dict[str, Any], where: str) -> Trail:
    return Trail(
        name=_field(data, "name", str, where),
        arn=_field(data, "arn", str, where),
        home_region=_field(data, "home_region", str, where),
        is_multi_region=_field(data, "is_multi_region", bool, where),
        is_organization_trail=_field(data, "is_organization_trail", bool, where),
        cloudwatch_logs_log_group_arn=_optional(data, "cloudwatch_logs_log_group_arn", str, where),
        is_logging=_optional(data, "is_logging", bool, where),
        is_logging_error=_optional(data, "is_logging_error", str, where),
        captures_management_events=_optional(data, "captures_management_events", bool, where),
        event_selectors_error=_optional(data, "event_selectors_error", str, where),
        event_selectors_summary=_optional(data, "event_selectors_summary", str, where),
    )


def _metric_filter_from_dict(data: dict[str, Any], where: str) -> MetricFilter:
    metrics = _field(data, "metrics", list, where)
    pairs = []
    for index, pair in enumerate(metrics):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            raise DetectionEvidenceError(
                f"{where}.metrics[{index}] must be a [namespace, metric name] pair of strings, got {pair!r}."
            )
        pairs.append((pair[0], pair[1]))
    return MetricFilter(
        log_group_name=_field(data, "log_group_name", str, where),
        region=_field(data, "region", str, where),
        filter_name=_field(data, "filter_name", str, where),
        pattern=_field(data, "pattern", str, where),
        metrics=tuple(pairs),
    )


def _alarm_from_dict(data: dict[str, Any], where: str) -> Alarm:
    actions = _field(data, "alarm_actions", list, where)
    if not all(isinstance(action, str) for action in actions):
        raise DetectionEvidenceError(f"{where}.alarm_actions must be a list of ARN strings, got {actions!r}.")
    return Alarm(
        name=_field(data, "name", str, where),
        region=_field(data, "region", str, where),
        namespace=_optional(data, "namespace", str, where),
        metric_name=_optional(data, "metric_name", str, where),
        alarm_actions=tuple(actions),
        actions_enabled=_field(data, "actions_enabled", bool, where),
        fires_on_one_event=_optional(data, "fires_on_one_event", bool, where),
        condition=_optional(data, "condition", str, where) or "",
    )


def _subscription_from_dict(data: dict[str, Any], where: str) -> Subscription:
    return Subscription(
        topic_arn=_field(data, "topic_arn", str, where),
        protocol=_field(data, "protocol", str, where),
        endpoint=_field(data, "endpoint", str, where),
        confirmed=_field(data, "confirmed", bool, where),
    )


def _detector_from_dict(data: dict[str, Any], where: str) -> GuardDutyDetector:
    return GuardDutyDetector(
        detector_id=_field(data, "detector_id", str, where),
        status=_optional(data, "status", str, where),
    )


def _strings(data: dict[str, Any], key: str) -> list[str] | None:
    values = _optional(data, key, list, "detection")
    if values is None:
        return None
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise DetectionEvidenceError(f"detection.{key}[{index}] must be a string, got {value!r}.")
    return list(values)


def _items(data: dict[str, Any], key: str, build: Callable[[dict[str, Any], str], Any]) -> list[Any] | None:
    values = _optional(data, key, list, "detection")
    if values is None:
        return None
    items = []
    for index, value in enumerate(values):
        where = f"detection.{key}[{index}]"
        _require_mapping(value, where)
        items.append(build(value, where))
    return items


def _field(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise DetectionEvidenceError(f"{where} has no {key!r} field; save the evidence again with detection_to_dict.")
    return _checked(data[key], key, kind, where)


def _optional(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if value is None:
        return None
    return _checked(value, key, kind, where)


def _checked(value: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise DetectionEvidenceError(f"{where}.{key} must be of type {kind.__name__}, got {value!r}.")
    return value


def _require_mapping(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise DetectionEvidenceError(f"{where} must be a JSON object, got {type(value).__name__}.")
