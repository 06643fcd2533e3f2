"""Controls that check root use is detected: a CIS root-use alarm, GuardDuty and AWS Config rules.

Each control is a pure function of one account's evidence and the run's settings, like the root
controls. They read the account's `DetectionEvidence`. An account whose evidence could not be
collected is an error, an account in a partition without a usable root user is skipped, and an
account without detection evidence (offline reports hold none) is skipped. A link of evidence that
could not be read is an error naming the failed call, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from awscompliance.controls.root import PARTITIONS_WITHOUT_ROOT
from awscompliance.detection import (
    Alarm,
    DetectionEvidence,
    MetricFilter,
    Subscription,
    Trail,
    is_sns_topic_arn,
    parse_log_group_arn,
)
from awscompliance.evidence import AuditSettings, Evidence, Status, Verdict

ROOT_USE_ALARM = "root-use-alarm"
ROOT_USE_DETECTED_BY_GUARDDUTY = "root-use-detected-by-guardduty"
ROOT_CONFIG_RULES = "root-config-rules"

# The CIS metric filter pattern for root use: a root identity, not acting through an AWS service,
# in an event that is not an AWS service event.
CIS_ROOT_USE_PATTERN = (
    '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }'
)

# AWS managed Config rules on the root user: SourceIdentifier -> the rule's default name.
REQUIRED_CONFIG_RULES = {
    "ROOT_ACCOUNT_MFA_ENABLED": "root-account-mfa-enabled",
    "ROOT_ACCOUNT_HARDWARE_MFA_ENABLED": "root-account-hardware-mfa-enabled",
    "IAM_ROOT_ACCESS_KEY_CHECK": "iam-root-access-key-check",
}

# GuardDuty reports root use as this finding type, with severity Low.
GUARDDUTY_ROOT_FINDING = "Policy:IAMUser/RootCredentialUsage"


def root_use_alarm(evidence: Evidence, settings: AuditSettings) -> Verdict:
    """Pass when a trail, metric filter, alarm and confirmed SNS subscription alert on root use."""
    detection = _detection_or_verdict(ROOT_USE_ALARM, evidence)
    if isinstance(detection, Verdict):
        return detection

    facts: dict[str, Any] = {"region": detection.region}
    if detection.trails is None:
        reason = detection.trails_error or f"the trails of {detection.region} were not collected"
        return Verdict(ROOT_USE_ALARM, Status.ERROR, f"The CloudTrail trails cannot be judged: {reason}", facts)
    if not detection.trails:
        return Verdict(
            ROOT_USE_ALARM,
            Status.FAIL,
            f"DescribeTrails in {detection.region} shows no CloudTrail trail, so root use is not logged. Create a "
            "multi-Region trail that logs read and write management events to CloudWatch Logs, then add the "
            "root-use metric filter, an alarm on its metric and a confirmed SNS subscription.",
            facts,
        )

    account_id = detection.account_id or evidence.account_id
    management = _management_detection(evidence)
    links = [_trail_link(trail, detection, management, account_id) for trail in detection.trails]
    facts["trails"] = {link.trail_arn: link.status.value for link in links}

    passed = [link for link in links if link.status is Status.PASS]
    if passed:
        return Verdict(ROOT_USE_ALARM, Status.PASS, passed[0].message, facts | passed[0].facts)

    # A link that could not be read might have completed the chain, so it outranks every FAIL.
    errors = [link for link in links if link.status is Status.ERROR]
    reported = max(errors or links, key=lambda link: link.step)
    message = reported.message
    if len(links) > 1:
        message = (
            f"None of the {len(links)} trails visible in {detection.region} leads to a working root-use alarm. "
            f"Closest: {message}"
        )
    return Verdict(ROOT_USE_ALARM, reported.status, message, facts | reported.facts)


def root_use_detected_by_guardduty(evidence: Evidence, settings: AuditSettings) -> Verdict:
    """Pass when an enabled GuardDuty detector exists in the account's home Region."""
    detection = _detection_or_verdict(ROOT_USE_DETECTED_BY_GUARDDUTY, evidence)
    if isinstance(detection, Verdict):
        return detection

    region = detection.region
    detectors = detection.guardduty_detectors
    facts: dict[str, Any] = {"region": region}
    if detectors is None:
        reason = detection.guardduty_error or f"the GuardDuty detectors of {region} were not collected"
        return Verdict(ROOT_USE_DETECTED_BY_GUARDDUTY, Status.ERROR, f"GuardDuty cannot be judged: {reason}", facts)
    facts["detectors"] = {detector.detector_id: detector.status for detector in detectors}

    enabled = [detector for detector in detectors if detector.status == "ENABLED"]
    if enabled:
        return Verdict(
            ROOT_USE_DETECTED_BY_GUARDDUTY,
            Status.PASS,
            f"GuardDuty detector {enabled[0].detector_id} in {region} has Status=ENABLED, so it reports root use "
            f"as finding {GUARDDUTY_ROOT_FINDING}. That finding has severity Low: an alert route that filters by "
            "severity can drop it, so route it by finding type.",
            facts,
        )

    unknown = [detector for detector in detectors if detector.status is None]
    if unknown:
        reason = detection.guardduty_error or "GetDetector was not read"
        return Verdict(
            ROOT_USE_DETECTED_BY_GUARDDUTY,
            Status.ERROR,
            f"The status of GuardDuty detector {unknown[0].detector_id} in {region} is unknown: {reason}",
            facts,
        )

    if not detectors:
        return Verdict(
            ROOT_USE_DETECTED_BY_GUARDDUTY,
            Status.FAIL,
            f"ListDetectors in {region} returned no GuardDuty detector, so no {GUARDDUTY_ROOT_FINDING} finding "
            f"reports root use. Enable GuardDuty in {region}.",
            facts,
        )
    statuses = ", ".join(f"{detector.detector_id} Status={detector.status}" for detector in detectors)
    return Verdict(
        ROOT_USE_DETECTED_BY_GUARDDUTY,
        Status.FAIL,
        f"No GuardDuty detector in {region} is enabled ({statuses}), so no {GUARDDUTY_ROOT_FINDING} finding reports "
        f"root use. Enable GuardDuty in {region}.",
        facts,
    )


def root_config_rules(evidence: Evidence, settings: AuditSettings) -> Verdict:
    """Pass when the AWS managed Config rules on root are deployed in the account's home Region."""
    detection = _detection_or_verdict(ROOT_CONFIG_RULES, evidence)
    if isinstance(detection, Verdict):
        return detection

    region = detection.region
    facts: dict[str, Any] = {"region": region}
    if detection.config_rules is None:
        reason = detection.config_rules_error or f"the AWS Config rules of {region} were not collected"
        return Verdict(ROOT_CONFIG_RULES, Status.ERROR, f"AWS Config rules cannot be judged: {reason}", facts)

    deployed = set(detection.config_rules)
    facts["deployed"] = sorted(deployed & set(REQUIRED_CONFIG_RULES))
    missing = [identifier for identifier in REQUIRED_CONFIG_RULES if identifier not in deployed]
    facts["missing"] = missing
    if missing:
        listed = ", ".join(f"{identifier} ({REQUIRED_CONFIG_RULES[identifier]})" for identifier in missing)
        return Verdict(
            ROOT_CONFIG_RULES,
            Status.FAIL,
            f"AWS Config in {region} lacks the managed rule(s) {listed}. Deploy each in {region}, with a "
            "configuration recorder running there.",
            facts,
        )
    # NOTE: deployed does not mean compliant, because the rules' evaluation results are not read.
    # The root controls judge the same settings from the credential report.
    listed = ", ".join(REQUIRED_CONFIG_RULES)
    return Verdict(ROOT_CONFIG_RULES, Status.PASS, f"AWS Config in {region} has the managed rules {listed}.", facts)


def matches_root_use_pattern(pattern: str) -> bool:
    """Tell whether a metric filter pattern is the CIS root-use pattern.

    Whitespace, quotes around values, parentheses and the order of the three `&&` clauses do not
    matter. A pattern with another clause, or with `||`, does not match.
    """
    return _pattern_clauses(pattern) == _CIS_CLAUSES


def _pattern_clauses(pattern: str) -> frozenset[str] | None:
    text = pattern.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    body = text[1:-1]
    if "||" in body:
        return None
    # With only `&&` between clauses, parentheses do not change what matches.
    body = body.replace("(", "").replace(")", "")
    return frozenset(_normalize_clause(clause) for clause in body.split("&&"))


def _normalize_clause(clause: str) -> str:
    """Drop whitespace outside quoted values, then the quotes themselves.

    Whitespace inside a quoted value is part of the value: CloudWatch Logs compares "Root " and
    "Root" as different strings, so the two patterns must not compare equal here.
    """
    parts = re.split(r'("[^"]*")', clause)
    kept = [part[1:-1] if part.startswith('"') else re.sub(r"\s+", "", part) for part in parts]
    return "".join(kept)


_CIS_CLAUSES = _pattern_clauses(CIS_ROOT_USE_PATTERN)


def _management_detection(evidence: Evidence) -> DetectionEvidence | None:
    """Return the management account's detection evidence, where organization trails live."""
    return getattr(getattr(evidence, "organization", None), "management_detection", None)


def _detection_or_verdict(control: str, evidence: Evidence) -> DetectionEvidence | Verdict:
    """Return the detection evidence, or the verdict for an account where the control cannot judge it."""
    source = {"source": evidence.account.source}
    if evidence.error is not None:
        return Verdict(control, Status.ERROR, evidence.error, source)

    partition = evidence.partition
    reason = PARTITIONS_WITHOUT_ROOT.get(partition or "")
    if reason is not None:
        return Verdict(
            control,
            Status.SKIP,
            f"Not applicable: {reason} (partition {partition}, account {evidence.account_id}).",
            source | {"partition": partition},
        )

    detection = evidence.detection
    if detection is None:
        return Verdict(
            control,
            Status.SKIP,
            "The detection evidence (CloudTrail, CloudWatch, SNS, GuardDuty, AWS Config) was not collected for "
            "this account; offline reports hold none unless saved by --save-evidence from a live run. Audit the "
            "account live to judge this control.",
            source,
        )
    return detection


# Links of the root-use alarm chain, in order: a trail that fails at a later link got further.
_STEP_MULTI_REGION = 0
_STEP_OWNER = 1
_STEP_LOGGING = 2
_STEP_MANAGEMENT_EVENTS = 3
_STEP_DELIVERY = 4
_STEP_METRIC_FILTER = 5
_STEP_ALARM = 6
_STEP_ALARM_ACTION = 7
_STEP_SUBSCRIPTION = 8
_STEP_COMPLETE = 9


@dataclass(frozen=True)
class _Link:
    """How far one trail's chain reaches: the link where it stops, or PASS at the end."""

    trail_arn: str
    status: Status
    step: int
    message: str
    facts: dict[str, Any] = field(default_factory=dict)


def _trail_link(
    trail: Trail, detection: DetectionEvidence, management: DetectionEvidence | None, account_id: str | None
) -> _Link:
    """Follow one trail's chain to the first broken link, or to a confirmed subscription."""
    arn = trail.arn
    facts: dict[str, Any] = {"trail": arn, "IsMultiRegionTrail": trail.is_multi_region}
    if not trail.is_multi_region:
        return _Link(
            arn,
            Status.FAIL,
            _STEP_MULTI_REGION,
            f"Trail {arn} has IsMultiRegionTrail=false, so root use in other Regions is not logged. Make the trail "
            "multi-Region.",
            facts,
        )

    owned = _owning_evidence(trail, detection, management, account_id)
    if isinstance(owned, _Link):
        return owned
    trail, detection = owned

    facts["IsLogging"] = trail.is_logging
    if trail.is_logging is None:
        reason = trail.is_logging_error or f"GetTrailStatus was not read for trail {arn}"
        return _Link(arn, Status.ERROR, _STEP_LOGGING, f"Whether trail {arn} is logging is unknown: {reason}", facts)
    if not trail.is_logging:
        return _Link(
            arn,
            Status.FAIL,
            _STEP_LOGGING,
            f"Trail {arn} has IsLogging=false (GetTrailStatus), so it records no events. Start logging on the trail.",
            facts,
        )

    facts["event_selectors"] = trail.event_selectors_summary
    if trail.captures_management_events is None:
        reason = trail.event_selectors_error or f"GetEventSelectors was not read for trail {arn}"
        return _Link(
            arn,
            Status.ERROR,
            _STEP_MANAGEMENT_EVENTS,
            f"Whether trail {arn} captures management events is unknown: {reason}",
            facts,
        )
    if not trail.captures_management_events:
        return _Link(
            arn,
            Status.FAIL,
            _STEP_MANAGEMENT_EVENTS,
            f"Trail {arn} does not capture read and write management events: {trail.event_selectors_summary}. "
            "Log all management events: an event selector with ReadWriteType=All, or an advanced event selector "
            "on eventCategory=Management without a readOnly field.",
            facts,
        )

    facts["CloudWatchLogsLogGroupArn"] = trail.cloudwatch_logs_log_group_arn
    return _log_group_link(trail, detection, facts)


def _owning_evidence(
    trail: Trail, detection: DetectionEvidence, management: DetectionEvidence | None, account_id: str | None
) -> tuple[Trail, DetectionEvidence] | _Link:
    """Return the trail and evidence of the account that owns the trail.

    An organization trail lives in the management account. DescribeTrails in a member account
    lists it, but its log group, metric filters and alarms are in the management account.
    """
    owner = trail.account_id
    if not trail.is_organization_trail or owner is None or owner == account_id:
        return trail, detection
    if management is None:
        if account_id is None:
            # Without this account's id, the trail may be this account's own, so it is judged here.
            return trail, detection
        return _Link(
            trail.arn,
            Status.ERROR,
            _STEP_OWNER,
            f"Trail {trail.arn} is an organization trail of management account {owner}, where its log group, "
            "metric filters and alarms are; that account's detection evidence was not provided. Audit the "
            "management account together with this one.",
            {"trail": trail.arn, "IsOrganizationTrail": True},
        )

    if management.trails is None:
        reason = management.trails_error or "its trails were not collected"
        return _Link(
            trail.arn,
            Status.ERROR,
            _STEP_OWNER,
            f"Organization trail {trail.arn} cannot be judged in management account {owner}: {reason}",
            {"trail": trail.arn, "IsOrganizationTrail": True},
        )
    for managed in management.trails:
        if managed.arn == trail.arn:
            return managed, management
    return _Link(
        trail.arn,
        Status.ERROR,
        _STEP_OWNER,
        f"Organization trail {trail.arn} is not among the trails of the management account's detection evidence "
        f"({management.account_id or 'account unknown'}, {management.region}). Collect that account's evidence again.",
        {"trail": trail.arn, "IsOrganizationTrail": True},
    )


def _log_group_link(trail: Trail, detection: DetectionEvidence, facts: dict[str, Any]) -> _Link:
    """Follow the chain from the trail's log group to its metric filters, then on to the alarms."""
    arn = trail.arn
    if trail.cloudwatch_logs_log_group_arn is None:
        return _Link(
            arn,
            Status.FAIL,
            _STEP_DELIVERY,
            f"Trail {arn} has no CloudWatchLogsLogGroupArn, so its events reach no metric filter. Configure the "
            "trail to deliver to a CloudWatch Logs log group.",
            facts,
        )
    group = parse_log_group_arn(trail.cloudwatch_logs_log_group_arn)
    if group is None:
        return _Link(
            arn,
            Status.ERROR,
            _STEP_DELIVERY,
            f"Trail {arn} has CloudWatchLogsLogGroupArn={trail.cloudwatch_logs_log_group_arn}, which is not a "
            "log group ARN. Check the trail's CloudWatch Logs settings.",
            facts,
        )

    if detection.metric_filters is None:
        reason = detection.metric_filters_error or "the metric filters were not collected"
        return _Link(
            arn,
            Status.ERROR,
            _STEP_METRIC_FILTER,
            f"The metric filters of log group {group.name} cannot be read: {reason}",
            facts,
        )
    on_group = [
        metric_filter
        for metric_filter in detection.metric_filters
        if metric_filter.log_group_name == group.name and metric_filter.region == group.region
    ]
    matching = [metric_filter for metric_filter in on_group if matches_root_use_pattern(metric_filter.pattern)]
    facts["metric_filter_patterns"] = {metric_filter.filter_name: metric_filter.pattern for metric_filter in on_group}
    if not matching:
        if detection.metric_filters_error is not None:
            return _Link(
                arn,
                Status.ERROR,
                _STEP_METRIC_FILTER,
                f"No root-use metric filter was found on log group {group.name}, but not every metric filter could be "
                f"read: {detection.metric_filters_error}",
                facts,
            )
        found = "; ".join(f"{item.filter_name}: {item.pattern}" for item in on_group) or "no metric filter"
        return _Link(
            arn,
            Status.FAIL,
            _STEP_METRIC_FILTER,
            f"No metric filter on log group {group.name} ({group.region}) of trail {arn} matches root use (found: "
            f"{found}). Add a metric filter with the pattern {CIS_ROOT_USE_PATTERN}.",
            facts,
        )

    facts["metric_filters"] = [metric_filter.filter_name for metric_filter in matching]
    return _alarm_link(arn, group.name, matching, detection, facts)


def _alarm_link(
    arn: str, log_group: str, filters: list[MetricFilter], detection: DetectionEvidence, facts: dict[str, Any]
) -> _Link:
    """Follow the chain from the root-use metric filters to their alarms and the alarms' topics."""
    metrics = {
        (metric_filter.region, namespace, name)
        for metric_filter in filters
        for namespace, name in metric_filter.metrics
    }
    shown_metrics = ", ".join(sorted(f"{namespace}/{name}" for _, namespace, name in metrics)) or "none"
    facts["metrics"] = sorted(f"{namespace}/{name}" for _, namespace, name in metrics)

    if detection.alarms is None:
        reason = detection.alarms_error or "the CloudWatch alarms were not collected"
        return _Link(
            arn, Status.ERROR, _STEP_ALARM, f"The alarms on metric {shown_metrics} cannot be read: {reason}", facts
        )
    alarms = [alarm for alarm in detection.alarms if (alarm.region, alarm.namespace, alarm.metric_name) in metrics]
    if not alarms:
        if detection.alarms_error is not None:
            return _Link(
                arn,
                Status.ERROR,
                _STEP_ALARM,
                f"No alarm on metric {shown_metrics} was found, but not every alarm could be read: "
                f"{detection.alarms_error}",
                facts,
            )
        names = ", ".join(metric_filter.filter_name for metric_filter in filters)
        return _Link(
            arn,
            Status.FAIL,
            _STEP_ALARM,
            f"No CloudWatch alarm watches metric {shown_metrics} of root-use metric filter {names} on log group "
            f"{log_group}. Create an alarm on that metric (Sum >= 1) that notifies an SNS topic.",
            facts,
        )
    facts["alarms"] = {alarm.name: list(alarm.alarm_actions) for alarm in alarms}

    notifying = [alarm for alarm in alarms if alarm.actions_enabled and _topics(alarm)]
    if not notifying:
        return _Link(arn, Status.FAIL, _STEP_ALARM_ACTION, _silent_alarms_message(alarms, shown_metrics), facts)
    # The metric filter counts each root event as 1, so the alarm must fire at a value of 1.
    firing = [alarm for alarm in notifying if alarm.fires_on_one_event is True]
    math_alarms = [alarm for alarm in notifying if alarm.fires_on_one_event is None]
    if not firing and math_alarms:
        names = ", ".join(alarm.name for alarm in math_alarms)
        return _Link(
            arn,
            Status.ERROR,
            _STEP_ALARM,
            f"Alarm {names} on metric {shown_metrics} uses metric math, which this suite does not evaluate, so "
            "whether one root event triggers it cannot be told. Alarm on the metric itself (Sum >= 1).",
            facts,
        )
    if not firing:
        shown = "; ".join(f"{alarm.name} ({alarm.condition.strip() or 'metric math'})" for alarm in notifying)
        return _Link(
            arn,
            Status.FAIL,
            _STEP_ALARM,
            f"No alarm on metric {shown_metrics} enters ALARM on a single root event: {shown}. Use "
            "ComparisonOperator GreaterThanOrEqualToThreshold with Threshold 1 and no dimensions.",
            facts,
        )
    return _subscription_link(arn, firing, detection, facts)


def _silent_alarms_message(alarms: list[Alarm], shown_metrics: str) -> str:
    with_topic = [alarm for alarm in alarms if _topics(alarm)]
    if with_topic:
        names = ", ".join(alarm.name for alarm in with_topic)
        return (
            f"Alarm {names} on metric {shown_metrics} has ActionsEnabled=false, so it notifies nobody. Enable the "
            "alarm's actions."
        )
    shown = "; ".join(f"{alarm.name}: {', '.join(alarm.alarm_actions) or 'none'}" for alarm in alarms)
    return (
        f"No alarm on metric {shown_metrics} notifies an SNS topic (AlarmActions of {shown}). Add an SNS topic to "
        "the alarm's actions."
    )


def _subscription_link(arn: str, alarms: list[Alarm], detection: DetectionEvidence, facts: dict[str, Any]) -> _Link:
    # NOTE: a confirmed subscription is taken as delivery. A subscription FilterPolicy that drops
    # alarm messages, a topic key CloudWatch cannot use, and trail delivery errors
    # (LatestCloudWatchLogsDeliveryError) are not read, so such a chain can still pass.
    topics = sorted({topic for alarm in alarms for topic in _topics(alarm)})
    names = ", ".join(alarm.name for alarm in alarms)
    shown_topics = ", ".join(topics)
    if detection.subscriptions is None:
        reason = detection.subscriptions_error or "the SNS subscriptions were not collected"
        return _Link(
            arn,
            Status.ERROR,
            _STEP_SUBSCRIPTION,
            f"The subscriptions of SNS topic {shown_topics} cannot be read: {reason}",
            facts,
        )

    subscriptions = [subscription for subscription in detection.subscriptions if subscription.topic_arn in topics]
    facts["subscriptions"] = [_describe_subscription(subscription) for subscription in subscriptions]
    confirmed = [subscription for subscription in subscriptions if subscription.confirmed]
    if confirmed:
        first = confirmed[0]
        alarm = next(alarm for alarm in alarms if first.topic_arn in alarm.alarm_actions)
        return _Link(
            arn,
            Status.PASS,
            _STEP_COMPLETE,
            f"Root use raises an alarm: trail {arn} is multi-Region, logging and captures management events; "
            f"metric filter {', '.join(facts['metric_filters'])} matches root use, alarm {alarm.name} watches "
            f"{alarm.namespace}/{alarm.metric_name} and notifies SNS topic {first.topic_arn}, which has a confirmed "
            f"{first.protocol} subscription.",
            facts,
        )

    if detection.subscriptions_error is not None:
        return _Link(
            arn,
            Status.ERROR,
            _STEP_SUBSCRIPTION,
            f"No confirmed subscription to SNS topic {shown_topics} was found, but not every subscription could "
            f"be read: {detection.subscriptions_error}",
            facts,
        )
    found = "; ".join(facts["subscriptions"]) or "no subscriptions"
    return _Link(
        arn,
        Status.FAIL,
        _STEP_SUBSCRIPTION,
        f"SNS topic {shown_topics} of alarm {names} has no confirmed subscription ({found}), so the alarm reaches "
        "nobody. Subscribe a monitored endpoint to the topic and confirm the subscription.",
        facts,
    )


def _topics(alarm: Alarm) -> list[str]:
    return [action for action in alarm.alarm_actions if is_sns_topic_arn(action)]


def _describe_subscription(subscription: Subscription) -> str:
    state = "confirmed" if subscription.confirmed else "PendingConfirmation"
    return f"{subscription.protocol} {subscription.endpoint}: {state}"
