"""Detection evidence and the root-use detection controls, against moto and hand-built evidence.

moto confirms every SNS subscription at once, so "PendingConfirmation" is built by hand. A member
account's view of another account's organization trail is also built by hand, because moto shows
an organization trail only in the account that created it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from awscompliance.controls import detection as controls
from awscompliance.controls.detection import (
    CIS_ROOT_USE_PATTERN,
    matches_root_use_pattern,
    root_config_rules,
    root_use_alarm,
    root_use_detected_by_guardduty,
)
from awscompliance.credential_report import parse_report
from awscompliance.detection import (
    Alarm,
    DetectionEvidence,
    DetectionEvidenceError,
    GuardDutyDetector,
    MetricFilter,
    Subscription,
    Trail,
    collect_detection,
    detection_from_dict,
    detection_to_dict,
    management_event_coverage,
    parse_log_group_arn,
)
from awscompliance.evidence import Account, AuditSettings, Evidence, Status
from awscompliance.readonly import new_session
from unit_tests.reports import report_csv, root_row

pytestmark = pytest.mark.usefixtures("aws_credentials")

SETTINGS = AuditSettings(as_of=datetime(2026, 6, 1, tzinfo=timezone.utc))
REGION = "us-east-1"
# moto's default account.
MOTO_ACCOUNT = "123456789012"
MANAGEMENT_ACCOUNT = "111111111111"
MEMBER_ACCOUNT = "222222222222"
REQUIRED_RULES = ["ROOT_ACCOUNT_MFA_ENABLED", "ROOT_ACCOUNT_HARDWARE_MFA_ENABLED", "IAM_ROOT_ACCESS_KEY_CHECK"]
DENIED_MESSAGE = "User: arn:aws:sts::123456789012:assumed-role/auditor/audit is not authorized to perform this action"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def build_chain(
    region: str = REGION,
    *,
    multi_region: bool = True,
    logging: bool = True,
    deliver_to_logs: bool = True,
    pattern: str = CIS_ROOT_USE_PATTERN,
    alarm: bool = True,
    alarm_actions: bool = True,
    actions_enabled: bool = True,
    subscribe: bool = True,
    event_selectors: dict[str, Any] | None = None,
    organization: bool = False,
) -> dict[str, str]:
    """Create the CIS root-use alarm chain in moto without the read-only guard; return its ARNs."""
    boto3.client("s3", region_name=region).create_bucket(
        Bucket=f"trail-logs-{region}",
        **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}),
    )
    logs = boto3.client("logs", region_name=region)
    logs.create_log_group(logGroupName="cloudtrail/main")
    group_arn = logs.describe_log_groups(logGroupNamePrefix="cloudtrail/main")["logGroups"][0]["arn"]

    cloudtrail = boto3.client("cloudtrail", region_name=region)
    delivery = {}
    if deliver_to_logs:
        delivery = {
            "CloudWatchLogsLogGroupArn": group_arn,
            "CloudWatchLogsRoleArn": f"arn:aws:iam::{MOTO_ACCOUNT}:role/cloudtrail-to-logs",
        }
    trail_arn = cloudtrail.create_trail(
        Name="main",
        S3BucketName=f"trail-logs-{region}",
        IsMultiRegionTrail=multi_region,
        IsOrganizationTrail=organization,
        **delivery,
    )["TrailARN"]
    if logging:
        cloudtrail.start_logging(Name="main")
    if event_selectors is not None:
        cloudtrail.put_event_selectors(TrailName="main", **event_selectors)

    logs.put_metric_filter(
        logGroupName="cloudtrail/main",
        filterName="root-use",
        filterPattern=pattern,
        metricTransformations=[{"metricName": "RootUse", "metricNamespace": "CISBenchmark", "metricValue": "1"}],
    )

    sns = boto3.client("sns", region_name=region)
    topic_arn = sns.create_topic(Name="security-alerts")["TopicArn"]
    if subscribe:
        sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint="security@example.com")

    if alarm:
        boto3.client("cloudwatch", region_name=region).put_metric_alarm(
            AlarmName="root-use",
            Namespace="CISBenchmark",
            MetricName="RootUse",
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=[topic_arn] if alarm_actions else [],
            ActionsEnabled=actions_enabled,
        )
    return {"trail_arn": trail_arn, "group_arn": group_arn, "topic_arn": topic_arn}


def collect(region: str = REGION) -> DetectionEvidence:
    return collect_detection(new_session(), region)


def evidence_for(
    detection: DetectionEvidence | None,
    management: DetectionEvidence | None = None,
    account_id: str = MOTO_ACCOUNT,
    **fields: Any,
) -> Evidence:
    # The controls read only management_detection from the organization context.
    organization = SimpleNamespace(management_detection=management) if management is not None else None
    return Evidence(account=Account(account_id, "test"), detection=detection, organization=organization, **fields)


def hand_built_chain(
    account_id: str = MANAGEMENT_ACCOUNT, *, organization: bool = False, **trail_changes: Any
) -> DetectionEvidence:
    """Return the complete root-use chain of `account_id`, as collect_detection would read it."""
    trail = Trail(
        name="org-trail" if organization else "main",
        arn=f"arn:aws:cloudtrail:{REGION}:{account_id}:trail/{'org-trail' if organization else 'main'}",
        home_region=REGION,
        is_multi_region=True,
        is_organization_trail=organization,
        cloudwatch_logs_log_group_arn=f"arn:aws:logs:{REGION}:{account_id}:log-group:cloudtrail/main:*",
        is_logging=True,
        captures_management_events=True,
        event_selectors_summary="EventSelectors capture read and write management events",
    )
    topic = f"arn:aws:sns:{REGION}:{account_id}:security-alerts"
    return DetectionEvidence(
        region=REGION,
        account_id=account_id,
        trails=[dataclasses.replace(trail, **trail_changes)],
        metric_filters=[
            MetricFilter("cloudtrail/main", REGION, "root-use", CIS_ROOT_USE_PATTERN, (("CIS", "RootUse"),))
        ],
        alarms=[Alarm("root-use", REGION, "CIS", "RootUse", (topic,), True)],
        subscriptions=[Subscription(topic, "email", "security@example.com", confirmed=True)],
        guardduty_detectors=[GuardDutyDetector("d1", "ENABLED")],
        config_rules=list(REQUIRED_RULES),
    )


class StubbedSession:
    """A session that returns the given stubbed clients, and real clients for every other service and region."""

    def __init__(self, stubbed: dict[tuple[str, str], Any]) -> None:
        self._session = new_session()
        self._stubbed = stubbed

    def client(self, service: str, region_name: str, config: Any = None) -> Any:
        if (service, region_name) in self._stubbed:
            return self._stubbed[(service, region_name)]
        return self._session.client(service, region_name=region_name, config=config)


def stubbed_client(service: str, region: str = REGION) -> tuple[Any, Stubber]:
    client = new_session().client(service, region_name=region)
    return client, Stubber(client)


def deny(stubber: Stubber, method: str, params: dict[str, Any] | None = None) -> None:
    stubber.add_client_error(
        method,
        service_error_code="AccessDeniedException",
        service_message=DENIED_MESSAGE,
        http_status_code=400,
        expected_params=params,
    )


# --- collect_detection ------------------------------------------------------------------


def test_collect_reads_whole_chain(aws):
    arns = build_chain()

    detection = collect()

    assert detection.account_id == MOTO_ACCOUNT
    assert detection.trails_error is None
    assert [trail.arn for trail in detection.trails] == [arns["trail_arn"]]
    trail = detection.trails[0]
    assert trail.home_region == REGION
    assert trail.is_multi_region is True
    assert trail.is_logging is True
    assert trail.captures_management_events is True
    assert trail.cloudwatch_logs_log_group_arn == arns["group_arn"]
    assert detection.metric_filters == [
        MetricFilter("cloudtrail/main", REGION, "root-use", CIS_ROOT_USE_PATTERN, (("CISBenchmark", "RootUse"),))
    ]
    assert detection.alarms == [
        Alarm(
            "root-use",
            REGION,
            "CISBenchmark",
            "RootUse",
            (arns["topic_arn"],),
            True,
            fires_on_one_event=True,
            condition="GreaterThanOrEqualToThreshold 1.0",
        )
    ]
    assert detection.subscriptions == [Subscription(arns["topic_arn"], "email", "security@example.com", True)]


def test_collect_known_account_skips_sts(aws):
    build_chain()
    session = new_session()
    called: list[str] = []
    session.events.register("before-call.*.*", lambda model, **kwargs: called.append(model.service_model.service_name))

    detection = collect_detection(session, REGION, account_id=MOTO_ACCOUNT)

    assert "sts" not in called
    assert "cloudtrail" in called
    assert detection.account_id == MOTO_ACCOUNT
    assert detection.trails and detection.alarms


def test_collect_reads_guardduty_and_config(aws):
    detector_id = boto3.client("guardduty", region_name=REGION).create_detector(Enable=True)["DetectorId"]
    config = boto3.client("config", region_name=REGION)
    config.put_config_rule(
        ConfigRule={
            "ConfigRuleName": "root-mfa",
            "Source": {"Owner": "AWS", "SourceIdentifier": "ROOT_ACCOUNT_MFA_ENABLED"},
        }
    )

    detection = collect()

    assert detection.guardduty_detectors == [GuardDutyDetector(detector_id, "ENABLED")]
    assert detection.guardduty_error is None
    assert detection.config_rules == ["ROOT_ACCOUNT_MFA_ENABLED"]
    assert detection.config_rules_error is None


def test_collect_empty_account(aws):
    detection = collect()

    assert detection.trails == []
    assert detection.metric_filters == []
    assert detection.alarms == []
    assert detection.subscriptions == []
    assert detection.guardduty_detectors == []
    assert detection.config_rules == []


def test_collect_shadow_trail_from_home_region(aws):
    arns = build_chain("eu-west-1")

    detection = collect(REGION)

    trail = detection.trails[0]
    assert trail.arn == arns["trail_arn"]
    assert trail.home_region == "eu-west-1"
    assert trail.is_logging is True
    assert [item.region for item in detection.metric_filters] == ["eu-west-1"]
    assert [alarm.region for alarm in detection.alarms] == ["eu-west-1"]
    assert root_use_alarm(evidence_for(detection), SETTINGS).status is Status.PASS


def test_collect_skips_other_accounts_log_group():
    # DescribeTrails in a member account lists the management account's organization trail,
    # whose log group the member cannot read.
    trails = {
        "trailList": [
            {
                "Name": "org-trail",
                "TrailARN": f"arn:aws:cloudtrail:{REGION}:{MANAGEMENT_ACCOUNT}:trail/org-trail",
                "HomeRegion": REGION,
                "IsMultiRegionTrail": True,
                "IsOrganizationTrail": True,
                "CloudWatchLogsLogGroupArn": f"arn:aws:logs:{REGION}:{MANAGEMENT_ACCOUNT}:log-group:org/trail:*",
            }
        ]
    }
    cloudtrail, cloudtrail_stub = stubbed_client("cloudtrail")
    cloudtrail_stub.add_response("describe_trails", trails, {"includeShadowTrails": True})
    sts, sts_stub = stubbed_client("sts")
    sts_stub.add_response(
        "get_caller_identity", {"Account": MEMBER_ACCOUNT, "UserId": "AIDA", "Arn": "arn:aws:iam::222222222222:user/a"}
    )

    # No response is stubbed for logs, so any DescribeMetricFilters call would fail.
    logs, logs_stub = stubbed_client("logs")
    stubbed = {("cloudtrail", REGION): cloudtrail, ("sts", REGION): sts, ("logs", REGION): logs}

    with mock_aws(), cloudtrail_stub, sts_stub, logs_stub:
        detection = collect_detection(StubbedSession(stubbed), REGION)

    assert detection.trails[0].is_organization_trail is True
    assert detection.trails[0].is_logging is None
    assert detection.trails[0].is_logging_error is None
    assert detection.metric_filters == []
    assert detection.metric_filters_error is None
    cloudtrail_stub.assert_no_pending_responses()


def test_collect_keeps_going_after_denied_trails():
    cloudtrail, stubber = stubbed_client("cloudtrail")
    deny(stubber, "describe_trails", {"includeShadowTrails": True})

    with mock_aws(), stubber:
        boto3.client("guardduty", region_name=REGION).create_detector(Enable=True)
        detection = collect_detection(StubbedSession({("cloudtrail", REGION): cloudtrail}), REGION)

    assert detection.trails is None
    assert "DescribeTrails in us-east-1 failed: AccessDeniedException" in detection.trails_error
    assert "Grant cloudtrail:DescribeTrails" in detection.trails_error
    assert detection.metric_filters is None
    assert len(detection.guardduty_detectors) == 1


def test_collect_denied_trail_status():
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{MOTO_ACCOUNT}:trail/main"
    cloudtrail, stubber = stubbed_client("cloudtrail")
    stubber.add_response(
        "describe_trails",
        {"trailList": [{"Name": "main", "TrailARN": trail_arn, "HomeRegion": REGION, "IsMultiRegionTrail": True}]},
    )
    deny(stubber, "get_trail_status", {"Name": trail_arn})
    stubber.add_response("get_event_selectors", {"TrailARN": trail_arn, "EventSelectors": [{"ReadWriteType": "All"}]})

    with mock_aws(), stubber:
        detection = collect_detection(StubbedSession({("cloudtrail", REGION): cloudtrail}), REGION)
    verdict = root_use_alarm(evidence_for(detection), SETTINGS)

    trail = detection.trails[0]
    assert trail.is_logging is None
    assert "GetTrailStatus" in trail.is_logging_error
    assert trail.captures_management_events is True
    assert verdict.status is Status.ERROR
    assert "GetTrailStatus in us-east-1 for " + trail_arn in verdict.message
    assert "Grant cloudtrail:GetTrailStatus" in verdict.message


def test_collect_denied_metric_filters(aws):
    build_chain()
    logs, stubber = stubbed_client("logs")
    deny(stubber, "describe_metric_filters", {"logGroupName": "cloudtrail/main"})

    with stubber:
        detection = collect_detection(StubbedSession({("logs", REGION): logs}), REGION)
    verdict = root_use_alarm(evidence_for(detection), SETTINGS)

    assert detection.metric_filters == []
    assert "Grant logs:DescribeMetricFilters" in detection.metric_filters_error
    assert verdict.status is Status.ERROR
    assert "DescribeMetricFilters in us-east-1 for cloudtrail/main failed" in verdict.message


def test_collect_denied_subscriptions(aws):
    arns = build_chain()
    sns, stubber = stubbed_client("sns")
    deny(stubber, "list_subscriptions_by_topic", {"TopicArn": arns["topic_arn"]})

    with stubber:
        detection = collect_detection(StubbedSession({("sns", REGION): sns}), REGION)
    verdict = root_use_alarm(evidence_for(detection), SETTINGS)

    assert verdict.status is Status.ERROR
    assert "Grant sns:ListSubscriptionsByTopic" in verdict.message


def test_collect_explicit_deny_advice():
    guardduty, stubber = stubbed_client("guardduty")
    stubber.add_client_error(
        "list_detectors",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform guardduty:ListDetectors with an explicit deny in a service control policy",
        http_status_code=400,
    )

    with mock_aws(), stubber:
        detection = collect_detection(StubbedSession({("guardduty", REGION): guardduty}), REGION)

    assert detection.guardduty_detectors is None
    assert "Remove the explicit deny of guardduty:ListDetectors" in detection.guardduty_error


def test_collect_throttled_config_rules():
    config, stubber = stubbed_client("config")
    stubber.add_client_error("describe_config_rules", service_error_code="ThrottlingException", http_status_code=400)

    with mock_aws(), stubber:
        detection = collect_detection(StubbedSession({("config", REGION): config}), REGION)

    assert detection.config_rules is None
    assert "ThrottlingException" in detection.config_rules_error
    assert "Re-run later" in detection.config_rules_error


def test_collect_pending_subscription_fails(aws):
    arns = build_chain()
    topic = arns["topic_arn"]
    sns, stubber = stubbed_client("sns")
    stubber.add_response(
        "list_subscriptions_by_topic",
        {
            "Subscriptions": [
                {
                    "SubscriptionArn": "PendingConfirmation",
                    "Protocol": "email",
                    "Endpoint": "a@example.com",
                    "TopicArn": topic,
                },
                {
                    "SubscriptionArn": "PendingConfirmation",
                    "Protocol": "sms",
                    "Endpoint": "+15555550100",
                    "TopicArn": topic,
                },
            ]
        },
        {"TopicArn": topic},
    )

    with stubber:
        detection = collect_detection(StubbedSession({("sns", REGION): sns}), REGION)
    verdict = root_use_alarm(evidence_for(detection), SETTINGS)

    assert [subscription.confirmed for subscription in detection.subscriptions] == [False, False]
    assert verdict.status is Status.FAIL
    assert "email a@example.com: PendingConfirmation" in verdict.message


def test_moto_confirms_subscriptions(aws):
    # moto cannot show "PendingConfirmation", so the pending case is built by hand.
    arns = build_chain()

    listed = boto3.client("sns", region_name=REGION).list_subscriptions_by_topic(TopicArn=arns["topic_arn"])

    assert listed["Subscriptions"][0]["SubscriptionArn"].startswith("arn:aws:sns:")


# --- root-use-alarm against moto ------------------------------------------------------------


def test_alarm_complete_chain_passes(aws):
    arns = build_chain()

    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.PASS
    assert arns["trail_arn"] in verdict.message
    assert "alarm root-use" in verdict.message
    assert "confirmed email subscription" in verdict.message


def test_alarm_no_trail_fails(aws):
    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "shows no CloudTrail trail" in verdict.message


def test_alarm_single_region_trail_fails(aws):
    build_chain(multi_region=False)

    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "IsMultiRegionTrail=false" in verdict.message


def test_alarm_stopped_trail_fails(aws):
    build_chain(logging=False)

    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "IsLogging=false" in verdict.message


def test_alarm_without_log_delivery_fails(aws):
    build_chain(deliver_to_logs=False)

    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "no CloudWatchLogsLogGroupArn" in verdict.message


def test_alarm_wrong_pattern_fails(aws):
    weaker = '{ $.userIdentity.type = "Root" }'
    build_chain(pattern=weaker)

    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "No metric filter on log group cloudtrail/main" in verdict.message
    assert f"root-use: {weaker}" in verdict.message


def test_alarm_missing_alarm_fails(aws):
    build_chain(alarm=False)

    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "No CloudWatch alarm watches metric CISBenchmark/RootUse" in verdict.message


def test_alarm_without_sns_action_fails(aws):
    build_chain(alarm_actions=False)

    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "notifies an SNS topic" in verdict.message
    assert "root-use: none" in verdict.message


def test_alarm_actions_disabled_fails(aws):
    build_chain(actions_enabled=False)

    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "ActionsEnabled=false" in verdict.message


def test_alarm_topic_without_subscription_fails(aws):
    arns = build_chain(subscribe=False)

    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert f"SNS topic {arns['topic_arn']}" in verdict.message
    assert "no subscriptions" in verdict.message


def test_alarm_read_only_selector_fails(aws):
    build_chain(event_selectors={"EventSelectors": [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]})

    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "EventSelectors capture only read management events" in verdict.message


def test_alarm_advanced_read_only_selector_fails(aws):
    selector = {
        "Name": "management reads",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Management"]},
            {"Field": "readOnly", "Equals": ["true"]},
        ],
    }
    build_chain(event_selectors={"AdvancedEventSelectors": [selector]})

    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "AdvancedEventSelectors capture only read management events" in verdict.message


def test_alarm_advanced_all_management_passes(aws):
    selector = {"Name": "management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}
    build_chain(event_selectors={"AdvancedEventSelectors": [selector]})

    detection = collect()
    verdict = root_use_alarm(evidence_for(detection), SETTINGS)

    assert (
        detection.trails[0].event_selectors_summary == "AdvancedEventSelectors capture read and write management events"
    )
    assert verdict.status is Status.PASS


def test_alarm_pattern_variant_passes(aws):
    build_chain(
        pattern='{$.eventType!="AwsServiceEvent"&&$.userIdentity.type=Root&&$.userIdentity.invokedBy NOT EXISTS}'
    )

    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.PASS


# --- root-use-alarm on hand-built evidence -------------------------------------------------


def test_alarm_pending_subscription_fails():
    chain = hand_built_chain(MOTO_ACCOUNT)
    topic = chain.alarms[0].alarm_actions[0]
    pending = dataclasses.replace(
        chain, subscriptions=[Subscription(topic, "email", "security@example.com", confirmed=False)]
    )

    verdict = root_use_alarm(evidence_for(pending), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "email security@example.com: PendingConfirmation" in verdict.message
    assert "confirm the subscription" in verdict.message


def test_alarm_hand_built_chain_passes():
    verdict = root_use_alarm(evidence_for(hand_built_chain(MOTO_ACCOUNT)), SETTINGS)

    assert verdict.status is Status.PASS
    assert verdict.evidence["alarms"] == {"root-use": [f"arn:aws:sns:{REGION}:{MOTO_ACCOUNT}:security-alerts"]}


def test_alarm_alarm_in_other_region_fails():
    chain = hand_built_chain(MOTO_ACCOUNT)
    elsewhere = dataclasses.replace(chain, alarms=[dataclasses.replace(chain.alarms[0], region="eu-west-1")])

    verdict = root_use_alarm(evidence_for(elsewhere), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "No CloudWatch alarm watches metric CIS/RootUse" in verdict.message


def test_alarm_organization_trail_uses_management_chain():
    management = hand_built_chain(MANAGEMENT_ACCOUNT, organization=True)
    # The member lists the trail, but reads neither its status and selectors nor anything in the
    # management account.
    seen = dataclasses.replace(
        management.trails[0], is_logging=None, captures_management_events=None, event_selectors_summary=None
    )
    member = DetectionEvidence(
        region=REGION, account_id=MEMBER_ACCOUNT, trails=[seen], metric_filters=[], alarms=[], subscriptions=[]
    )

    verdict = root_use_alarm(evidence_for(member, management, account_id=MEMBER_ACCOUNT), SETTINGS)

    assert verdict.status is Status.PASS
    assert seen.arn in verdict.message


def test_alarm_organization_trail_broken_in_management_fails():
    management = hand_built_chain(MANAGEMENT_ACCOUNT, organization=True)
    management = dataclasses.replace(management, alarms=[])
    member = DetectionEvidence(
        region=REGION, account_id=MEMBER_ACCOUNT, trails=management.trails, metric_filters=[], alarms=[]
    )

    verdict = root_use_alarm(evidence_for(member, management, account_id=MEMBER_ACCOUNT), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "No CloudWatch alarm watches metric CIS/RootUse" in verdict.message


def test_alarm_organization_trail_without_management_errors():
    management = hand_built_chain(MANAGEMENT_ACCOUNT, organization=True)
    member = DetectionEvidence(
        region=REGION, account_id=MEMBER_ACCOUNT, trails=management.trails, metric_filters=[], alarms=[]
    )

    verdict = root_use_alarm(evidence_for(member, None, account_id=MEMBER_ACCOUNT), SETTINGS)

    assert verdict.status is Status.ERROR
    assert f"organization trail of management account {MANAGEMENT_ACCOUNT}" in verdict.message


def test_alarm_organization_trail_missing_from_management_errors():
    management = hand_built_chain(MANAGEMENT_ACCOUNT, organization=True)
    member = DetectionEvidence(region=REGION, account_id=MEMBER_ACCOUNT, trails=management.trails)
    other = dataclasses.replace(management, trails=[])

    verdict = root_use_alarm(evidence_for(member, other, account_id=MEMBER_ACCOUNT), SETTINGS)

    assert verdict.status is Status.ERROR
    assert "is not among the trails" in verdict.message


def test_alarm_organization_trail_from_moto_management(aws):
    build_chain(organization=True)
    management = collect()
    member = DetectionEvidence(
        region=REGION, account_id=MEMBER_ACCOUNT, trails=management.trails, metric_filters=[], alarms=[]
    )

    verdict = root_use_alarm(evidence_for(member, management, account_id=MEMBER_ACCOUNT), SETTINGS)

    assert management.trails[0].is_organization_trail is True
    assert verdict.status is Status.PASS


def test_alarm_management_own_organization_trail_passes():
    chain = hand_built_chain(MANAGEMENT_ACCOUNT, organization=True)

    verdict = root_use_alarm(evidence_for(chain, account_id=MANAGEMENT_ACCOUNT), SETTINGS)

    assert verdict.status is Status.PASS


def test_alarm_denied_trails_errors():
    denied = DetectionEvidence(region=REGION, trails_error="DescribeTrails in us-east-1 failed: AccessDeniedException")

    verdict = root_use_alarm(evidence_for(denied), SETTINGS)

    assert verdict.status is Status.ERROR
    assert "DescribeTrails in us-east-1 failed" in verdict.message


def test_alarm_denied_selectors_errors():
    chain = hand_built_chain(
        MOTO_ACCOUNT, captures_management_events=None, event_selectors_error="GetEventSelectors denied"
    )

    verdict = root_use_alarm(evidence_for(chain), SETTINGS)

    assert verdict.status is Status.ERROR
    assert "GetEventSelectors denied" in verdict.message


def test_alarm_error_outranks_other_trail_failure():
    chain = hand_built_chain(MOTO_ACCOUNT, is_logging=None, is_logging_error="GetTrailStatus denied")
    single = dataclasses.replace(chain.trails[0], arn=chain.trails[0].arn + "-single", is_multi_region=False)
    both = dataclasses.replace(chain, trails=[single, chain.trails[0]])

    verdict = root_use_alarm(evidence_for(both), SETTINGS)

    assert verdict.status is Status.ERROR
    assert "None of the 2 trails" in verdict.message
    assert "GetTrailStatus denied" in verdict.message


def test_alarm_one_good_trail_of_two_passes():
    chain = hand_built_chain(MOTO_ACCOUNT)
    single = dataclasses.replace(chain.trails[0], arn=chain.trails[0].arn + "-single", is_multi_region=False)
    both = dataclasses.replace(chain, trails=[single, chain.trails[0]])

    verdict = root_use_alarm(evidence_for(both), SETTINGS)

    assert verdict.status is Status.PASS
    assert verdict.evidence["trails"] == {single.arn: "fail", chain.trails[0].arn: "pass"}


def test_alarm_furthest_failure_reported():
    chain = hand_built_chain(MOTO_ACCOUNT)
    single = dataclasses.replace(chain.trails[0], arn=chain.trails[0].arn + "-single", is_multi_region=False)
    both = dataclasses.replace(chain, trails=[single, chain.trails[0]], subscriptions=[])

    verdict = root_use_alarm(evidence_for(both), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "has no confirmed subscription" in verdict.message


def test_alarm_filter_error_without_match_errors():
    chain = hand_built_chain(MOTO_ACCOUNT)
    partial = dataclasses.replace(chain, metric_filters=[], metric_filters_error="DescribeMetricFilters denied")

    verdict = root_use_alarm(evidence_for(partial), SETTINGS)

    assert verdict.status is Status.ERROR
    assert "DescribeMetricFilters denied" in verdict.message


def test_alarm_filter_error_with_match_passes():
    chain = hand_built_chain(MOTO_ACCOUNT)
    partial = dataclasses.replace(chain, metric_filters_error="DescribeMetricFilters denied for another group")

    verdict = root_use_alarm(evidence_for(partial), SETTINGS)

    assert verdict.status is Status.PASS


def test_alarm_metric_math_alarm_collected(aws):
    arns = build_chain(alarm=False)
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName="root-use-math",
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[arns["topic_arn"]],
        Metrics=[
            {
                "Id": "root",
                "MetricStat": {
                    "Metric": {"Namespace": "CISBenchmark", "MetricName": "RootUse"},
                    "Period": 300,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
        ],
    )

    detection = collect()

    assert [alarm.name for alarm in detection.alarms] == ["root-use-math"]
    # Metric math is not evaluated, so whether one root event triggers the alarm is unknown.
    verdict = root_use_alarm(evidence_for(detection), SETTINGS)
    assert verdict.status is Status.ERROR
    assert "metric math" in verdict.message


# --- preamble shared by the three controls --------------------------------------------------

ALL_CONTROLS = [root_use_alarm, root_use_detected_by_guardduty, root_config_rules]


@pytest.mark.parametrize("control", ALL_CONTROLS)
def test_control_collection_error_errors(control):
    evidence = evidence_for(hand_built_chain(), error="AssumeRole failed for account 111111111111")

    verdict = control(evidence, SETTINGS)

    assert verdict.status is Status.ERROR
    assert verdict.message == "AssumeRole failed for account 111111111111"


@pytest.mark.parametrize("control", ALL_CONTROLS)
def test_control_without_detection_skips(control):
    verdict = control(evidence_for(None), SETTINGS)

    assert verdict.status is Status.SKIP
    assert "detection evidence" in verdict.message
    assert "offline reports hold none" in verdict.message


@pytest.mark.parametrize("control", ALL_CONTROLS)
def test_control_govcloud_skips(control):
    report = parse_report(report_csv(root_row(partition="aws-us-gov")))
    evidence = evidence_for(hand_built_chain(), credential_report=report)

    verdict = control(evidence, SETTINGS)

    assert verdict.status is Status.SKIP
    assert "aws-us-gov" in verdict.message


def test_control_ids_exported():
    assert controls.ROOT_USE_ALARM == "root-use-alarm"
    assert controls.ROOT_USE_DETECTED_BY_GUARDDUTY == "root-use-detected-by-guardduty"
    assert controls.ROOT_CONFIG_RULES == "root-config-rules"


# --- metric filter pattern -------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        CIS_ROOT_USE_PATTERN,
        '{$.userIdentity.type="Root"&&$.userIdentity.invokedBy NOT EXISTS&&$.eventType!="AwsServiceEvent"}',
        "{ $.userIdentity.type = Root && $.userIdentity.invokedBy NOT EXISTS && $.eventType != AwsServiceEvent }",
        '{ $.eventType != "AwsServiceEvent" && $.userIdentity.invokedBy NOT EXISTS && $.userIdentity.type = "Root" }',
        '{ ($.userIdentity.type = "Root") && ($.userIdentity.invokedBy NOT EXISTS) && ($.eventType != "AwsServiceEvent") }',
        '{\n  $.userIdentity.type = "Root"\n  && $.userIdentity.invokedBy NOT EXISTS\n  && $.eventType != "AwsServiceEvent"\n}',
    ],
)
def test_pattern_variant_matches(pattern):
    assert matches_root_use_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.userIdentity.type = "Root" }',
        '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS }',
        '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" && $.eventName = "ConsoleLogin" }',
        '{ $.userIdentity.type = "Root" || $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }',
        '{ $.userIdentity.type = "IAMUser" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }',
        '$.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent"',
        '{ $.userIdentity.type = "root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }',
        "",
    ],
)
def test_pattern_other_rejected(pattern):
    assert not matches_root_use_pattern(pattern)


# --- event selectors -------------------------------------------------------------------------


def test_selectors_split_read_write_covered():
    response = {
        "EventSelectors": [
            {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True},
            {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True},
        ]
    }

    assert management_event_coverage(response) == (True, "EventSelectors capture read and write management events")


def test_selectors_excluded_management_not_covered():
    response = {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False}]}

    assert management_event_coverage(response) == (False, "EventSelectors capture no management events")


def test_advanced_selectors_both_sides_covered():
    response = {
        "AdvancedEventSelectors": [
            {
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "readOnly", "Equals": ["true"]},
                ]
            },
            {
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "readOnly", "Equals": ["false"]},
                ]
            },
        ]
    }

    assert management_event_coverage(response)[0] is True


def test_advanced_selectors_not_equals_write_only():
    response = {
        "AdvancedEventSelectors": [
            {
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "readOnly", "NotEquals": ["true"]},
                ]
            }
        ]
    }

    assert management_event_coverage(response) == (False, "AdvancedEventSelectors capture only write management events")


def test_advanced_selectors_data_only_not_covered():
    response = {
        "AdvancedEventSelectors": [
            {
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                ]
            }
        ]
    }

    assert management_event_coverage(response) == (False, "AdvancedEventSelectors capture no management events")


def test_selectors_empty_default_covered():
    assert management_event_coverage({"EventSelectors": []}, has_custom_selectors=False)[0] is True


def test_selectors_empty_custom_not_covered():
    assert management_event_coverage({"EventSelectors": []}, has_custom_selectors=True)[0] is False


def test_log_group_arn_parsed():
    parsed = parse_log_group_arn("arn:aws-us-gov:logs:us-gov-west-1:123456789012:log-group:aws/cloudtrail/main:*")

    assert parsed is not None
    assert parsed.region == "us-gov-west-1"
    assert parsed.account_id == "123456789012"
    assert parsed.name == "aws/cloudtrail/main"


def test_log_group_arn_invalid():
    assert parse_log_group_arn("arn:aws:s3:::bucket") is None


# --- root-use-detected-by-guardduty ---------------------------------------------------------


def test_guardduty_enabled_passes(aws):
    boto3.client("guardduty", region_name=REGION).create_detector(Enable=True)

    verdict = root_use_detected_by_guardduty(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.PASS
    assert "Policy:IAMUser/RootCredentialUsage" in verdict.message
    assert "severity Low" in verdict.message


def test_guardduty_disabled_fails(aws):
    detector_id = boto3.client("guardduty", region_name=REGION).create_detector(Enable=False)["DetectorId"]

    verdict = root_use_detected_by_guardduty(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert f"{detector_id} Status=DISABLED" in verdict.message
    assert "Enable GuardDuty in us-east-1" in verdict.message


def test_guardduty_none_fails(aws):
    verdict = root_use_detected_by_guardduty(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "returned no GuardDuty detector" in verdict.message


def test_guardduty_other_region_only_fails(aws):
    boto3.client("guardduty", region_name="eu-west-1").create_detector(Enable=True)

    verdict = root_use_detected_by_guardduty(evidence_for(collect(REGION)), SETTINGS)

    assert verdict.status is Status.FAIL


def test_guardduty_denied_errors():
    guardduty, stubber = stubbed_client("guardduty")
    deny(stubber, "list_detectors")

    with mock_aws(), stubber:
        detection = collect_detection(StubbedSession({("guardduty", REGION): guardduty}), REGION)
    verdict = root_use_detected_by_guardduty(evidence_for(detection), SETTINGS)

    assert verdict.status is Status.ERROR
    assert "Grant guardduty:ListDetectors" in verdict.message


def test_guardduty_unknown_status_errors():
    detection = DetectionEvidence(
        region=REGION,
        guardduty_detectors=[GuardDutyDetector("d1", None)],
        guardduty_error="GetDetector in us-east-1 for d1 failed: AccessDeniedException",
    )

    verdict = root_use_detected_by_guardduty(evidence_for(detection), SETTINGS)

    assert verdict.status is Status.ERROR
    assert "GetDetector in us-east-1 for d1 failed" in verdict.message


# --- root-config-rules ----------------------------------------------------------------------


def put_managed_rules(identifiers: list[str]) -> None:
    config = boto3.client("config", region_name=REGION)
    for identifier in identifiers:
        config.put_config_rule(
            ConfigRule={
                "ConfigRuleName": identifier.lower(),
                "Source": {"Owner": "AWS", "SourceIdentifier": identifier},
            }
        )


def test_config_all_rules_pass(aws):
    put_managed_rules(REQUIRED_RULES)

    verdict = root_config_rules(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.PASS
    assert verdict.evidence["missing"] == []


def test_config_missing_rules_fail(aws):
    put_managed_rules(["ROOT_ACCOUNT_MFA_ENABLED"])

    verdict = root_config_rules(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "ROOT_ACCOUNT_HARDWARE_MFA_ENABLED (root-account-hardware-mfa-enabled)" in verdict.message
    assert "IAM_ROOT_ACCESS_KEY_CHECK (iam-root-access-key-check)" in verdict.message
    assert "ROOT_ACCOUNT_MFA_ENABLED (" not in verdict.message


def test_config_denied_errors():
    detection = DetectionEvidence(
        region=REGION, config_rules_error="DescribeConfigRules in us-east-1 failed: AccessDenied"
    )

    verdict = root_config_rules(evidence_for(detection), SETTINGS)

    assert verdict.status is Status.ERROR
    assert "DescribeConfigRules in us-east-1 failed" in verdict.message


# --- saving and loading -----------------------------------------------------------------------


def test_round_trip_collected(aws):
    build_chain()
    boto3.client("guardduty", region_name=REGION).create_detector(Enable=True)
    put_managed_rules(REQUIRED_RULES)
    detection = collect()

    loaded = detection_from_dict(json.loads(json.dumps(detection_to_dict(detection))))

    assert loaded == detection


def test_round_trip_errors_and_none():
    detection = DetectionEvidence(
        region="eu-central-1",
        trails=[
            Trail(
                name="main",
                arn="arn:aws:cloudtrail:eu-central-1:123456789012:trail/main",
                home_region="eu-central-1",
                is_multi_region=True,
                is_organization_trail=False,
                is_logging_error="GetTrailStatus denied",
            )
        ],
        metric_filters=[],
        metric_filters_error="DescribeMetricFilters denied",
        config_rules_error="DescribeConfigRules denied",
    )

    loaded = detection_from_dict(json.loads(json.dumps(detection_to_dict(detection))))

    assert loaded == detection
    assert loaded.alarms is None


def test_to_dict_is_json_types():
    data = detection_to_dict(hand_built_chain())

    assert data["metric_filters"][0]["metrics"] == [["CIS", "RootUse"]]
    assert data["alarms"][0]["alarm_actions"] == [f"arn:aws:sns:{REGION}:{MANAGEMENT_ACCOUNT}:security-alerts"]


def test_from_dict_missing_field_names_it():
    data = detection_to_dict(hand_built_chain())
    del data["trails"][0]["arn"]

    with pytest.raises(DetectionEvidenceError) as raised:
        detection_from_dict(data)

    assert "detection.trails[0] has no 'arn' field" in str(raised.value)


def test_from_dict_wrong_type_names_it():
    data = detection_to_dict(hand_built_chain())
    data["trails"][0]["is_logging"] = "yes"

    with pytest.raises(DetectionEvidenceError) as raised:
        detection_from_dict(data)

    assert "detection.trails[0].is_logging must be of type bool" in str(raised.value)


def test_from_dict_bad_metric_pair_names_it():
    data = detection_to_dict(hand_built_chain())
    data["metric_filters"][0]["metrics"] = [["CIS"]]

    with pytest.raises(DetectionEvidenceError) as raised:
        detection_from_dict(data)

    assert "detection.metric_filters[0].metrics[0]" in str(raised.value)


def test_from_dict_not_object():
    with pytest.raises(DetectionEvidenceError):
        detection_from_dict([])  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ['"Root "', '"Ro ot"', '" Root"'])
def test_pattern_whitespace_inside_value_matters(value):
    pattern = CIS_ROOT_USE_PATTERN.replace('"Root"', value)

    assert matches_root_use_pattern(pattern) is False


def test_pattern_whitespace_outside_values_ignored():
    spaced = '{ $.userIdentity.type  =  "Root" &&  $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }'

    assert matches_root_use_pattern(spaced) is True


@pytest.mark.parametrize(
    ("operator", "threshold"),
    [("LessThanThreshold", 1), ("GreaterThanOrEqualToThreshold", 1e9), ("GreaterThanThreshold", 1)],
)
def test_alarm_that_never_fires_on_one_event_fails(aws, operator, threshold):
    build_chain(alarm=False)
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName="root-use",
        Namespace="CISBenchmark",
        MetricName="RootUse",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator=operator,
        AlarmActions=[boto3.client("sns", region_name=REGION).create_topic(Name="security-alerts")["TopicArn"]],
    )
    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "single root event" in verdict.message


def test_alarm_with_dimensions_fails(aws):
    build_chain(alarm=False)
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName="root-use",
        Namespace="CISBenchmark",
        MetricName="RootUse",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Dimensions=[{"Name": "Account", "Value": "prod"}],
        AlarmActions=[boto3.client("sns", region_name=REGION).create_topic(Name="security-alerts")["TopicArn"]],
    )
    verdict = root_use_alarm(evidence_for(collect()), SETTINGS)

    assert verdict.status is Status.FAIL
