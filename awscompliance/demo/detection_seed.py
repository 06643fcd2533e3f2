"""Seed what the root-use detection controls read: CloudTrail, the CIS alarm chain, GuardDuty, AWS Config.

Each demo account carries a `DetectionSeed`. `seed_detection` builds it in the account's home
Region through the AWS API, with a seeding session that may write. A complete `TrailSeed` is the
CIS root-use alarm chain: a trail logging to a CloudWatch Logs log group, a metric filter with the
CIS pattern, an alarm on the filter's metric, and an SNS topic with an email subscription. The
other fields of `TrailSeed` break one link of that chain each.

NOTE: AWS also requires an S3 bucket policy that lets CloudTrail and AWS Config write, an IAM role
that lets CloudTrail deliver to CloudWatch Logs, and AWS Config's service-linked role. moto 5.2
checks none of them and the suite reads none of them, so the demo creates the buckets only and
names roles that it does not create.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import boto3

logger = logging.getLogger(__name__)

# The CIS root-use pattern, as the CIS AWS Foundations Benchmark gives it: a root identity, not
# acting through an AWS service, in an event that is not an AWS service event.
CIS_ROOT_USE_PATTERN = (
    '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }'
)
# A root filter that counts only console sign-ins, so root calls made with access keys raise no alarm.
ROOT_CONSOLE_LOGIN_PATTERN = '{ $.userIdentity.type = "Root" && $.eventName = "ConsoleLogin" }'

# AWS managed Config rules on root: SourceIdentifier -> the rule name AWS gives it by default.
CONFIG_RULE_NAMES = {
    "ROOT_ACCOUNT_MFA_ENABLED": "root-account-mfa-enabled",
    "ROOT_ACCOUNT_HARDWARE_MFA_ENABLED": "root-account-hardware-mfa-enabled",
    "IAM_ROOT_ACCESS_KEY_CHECK": "iam-root-access-key-check",
}
ALL_ROOT_CONFIG_RULES = tuple(CONFIG_RULE_NAMES)

METRIC_NAMESPACE = "CISBenchmark"
METRIC_NAME = "RootAccountUsage"
ALERT_TOPIC = "security-alerts"
ALERT_EMAIL = "security-alerts@example.com"
_RECORDER = "default"


@dataclass(frozen=True)
class TrailSeed:
    """A CloudTrail trail of one account and the root-use alarm chain built on its log group."""

    name: str = "account-trail"
    multi_region: bool = True
    # An organization trail, created in the management account, logs every member account too.
    organization: bool = False
    # Whether the trail delivers to a CloudWatch Logs log group as well as to S3.
    deliver_to_logs: bool = True
    # Pattern of the metric filter on the trail's log group, or None for no filter.
    filter_pattern: str | None = CIS_ROOT_USE_PATTERN
    # Whether a CloudWatch alarm on the filter's metric notifies a subscribed SNS topic.
    alarm: bool = True


@dataclass(frozen=True)
class DetectionSeed:
    """The root-use detection one account has set up in the demo's home Region."""

    trail: TrailSeed | None = None
    # True for an enabled GuardDuty detector, False for a suspended one, None for no detector.
    guardduty_enabled: bool | None = None
    # SourceIdentifier of each AWS managed Config rule deployed, e.g. ROOT_ACCOUNT_MFA_ENABLED.
    config_rules: tuple[str, ...] = ()


def seed_detection(session: boto3.Session, account_id: str, seed: DetectionSeed) -> None:
    """Create the trail, alarm chain, GuardDuty detector and AWS Config rules that `seed` describes."""
    if seed.trail is not None:
        _seed_trail(session, account_id, seed.trail)
    if seed.guardduty_enabled is not None:
        # A suspended detector still exists, and GetDetector shows Status=DISABLED.
        session.client("guardduty").create_detector(
            Enable=seed.guardduty_enabled, FindingPublishingFrequency="FIFTEEN_MINUTES"
        )
    if seed.config_rules:
        _seed_config_rules(session, account_id, seed.config_rules)


def _seed_trail(session: boto3.Session, account_id: str, seed: TrailSeed) -> None:
    region = session.region_name
    bucket = f"aws-cloudtrail-logs-{account_id}"
    session.client("s3").create_bucket(Bucket=bucket)
    if seed.organization:
        # AWS creates an organization trail only after trusted access for CloudTrail is enabled.
        session.client("organizations").enable_aws_service_access(ServicePrincipal="cloudtrail.amazonaws.com")

    delivery: dict[str, str] = {}
    log_group = f"aws-cloudtrail-logs-{account_id}-{seed.name}"
    if seed.deliver_to_logs:
        logs = session.client("logs")
        logs.create_log_group(logGroupName=log_group)
        delivery = {
            "CloudWatchLogsLogGroupArn": f"arn:aws:logs:{region}:{account_id}:log-group:{log_group}:*",
            "CloudWatchLogsRoleArn": f"arn:aws:iam::{account_id}:role/CloudTrail_CloudWatchLogs_Role",
        }

    cloudtrail = session.client("cloudtrail")
    cloudtrail.create_trail(
        Name=seed.name,
        S3BucketName=bucket,
        IsMultiRegionTrail=seed.multi_region,
        IsOrganizationTrail=seed.organization,
        EnableLogFileValidation=True,
        **delivery,
    )
    cloudtrail.start_logging(Name=seed.name)

    if not seed.deliver_to_logs or seed.filter_pattern is None:
        return
    _seed_alarm_chain(session, log_group, seed)


def _seed_alarm_chain(session: boto3.Session, log_group: str, seed: TrailSeed) -> None:
    session.client("logs").put_metric_filter(
        logGroupName=log_group,
        filterName="RootAccountUsage",
        filterPattern=seed.filter_pattern,
        metricTransformations=[{"metricName": METRIC_NAME, "metricNamespace": METRIC_NAMESPACE, "metricValue": "1"}],
    )
    if not seed.alarm:
        return

    sns = session.client("sns")
    topic_arn = sns.create_topic(Name=ALERT_TOPIC)["TopicArn"]
    # NOTE: moto confirms an email subscription at once, where AWS waits for the recipient to
    # confirm it. The demo therefore has no subscription in PendingConfirmation.
    sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=ALERT_EMAIL)
    session.client("cloudwatch").put_metric_alarm(
        AlarmName="root-account-usage",
        AlarmDescription="Root user activity (CIS AWS Foundations Benchmark)",
        Namespace=METRIC_NAMESPACE,
        MetricName=METRIC_NAME,
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic_arn],
    )


def _seed_config_rules(session: boto3.Session, account_id: str, identifiers: tuple[str, ...]) -> None:
    # AWS Config rules evaluate only in a Region with a running configuration recorder and a delivery channel.
    bucket = f"config-bucket-{account_id}"
    session.client("s3").create_bucket(Bucket=bucket)
    config = session.client("config")
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": _RECORDER,
            "roleARN": f"arn:aws:iam::{account_id}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": _RECORDER, "s3BucketName": bucket})
    config.start_configuration_recorder(ConfigurationRecorderName=_RECORDER)

    for identifier in identifiers:
        rule: dict[str, Any] = {
            "ConfigRuleName": CONFIG_RULE_NAMES[identifier],
            "Source": {"Owner": "AWS", "SourceIdentifier": identifier},
            # The root rules are periodic, and AWS runs them every 24 hours by default.
            "MaximumExecutionFrequency": "TwentyFour_Hours",
        }
        config.put_config_rule(ConfigRule=rule)
    logger.debug("deployed AWS Config rules %s in account %s", ", ".join(identifiers), account_id)
