"""The four root controls as pure functions of hand-built evidence."""

from datetime import datetime, timedelta, timezone

import pytest

from awscompliance.controls import root
from awscompliance.credential_report import parse_report
from awscompliance.evidence import Account, AuditSettings, Evidence, Status, VirtualMfaDevice
from unit_tests.reports import ACCOUNT_ID, report_csv, root_row, user_row

AS_OF = datetime(2026, 6, 1, tzinfo=timezone.utc)
SETTINGS = AuditSettings(as_of=AS_OF, root_usage_days=7)
ROOT_ARN = f"arn:aws:iam::{ACCOUNT_ID}:root"
ALL_CONTROLS = [root.root_usage, root.root_access_key, root.root_mfa, root.root_hardware_mfa]


# A live run reads the account summary just after the report.
LIVE_REPORT_TIME = AS_OF - timedelta(hours=1)
LIVE_SUMMARY_TIME = AS_OF - timedelta(minutes=59)


def make_evidence(*rows, summary=None, devices=None, generated=None, summary_time=None, error=None):
    report = parse_report(report_csv(*rows)) if rows else None
    return Evidence(
        account=Account(ACCOUNT_ID, "test"),
        credential_report=report,
        report_generated_time=generated,
        account_summary=summary,
        account_summary_time=summary_time,
        virtual_mfa_devices=devices,
        error=error,
    )


def summary(**values):
    base = {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0, "AccountPasswordPresent": 1}
    return base | values


def iso(moment):
    return moment.isoformat()


# --- root-usage ---------------------------------------------------------------------------


def test_usage_exactly_at_window_edge_fails():
    used = AS_OF - timedelta(days=7)
    verdict = root.root_usage(make_evidence(root_row(password_last_used=iso(used))), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "password_last_used=2026-05-25T00:00:00Z" in verdict.message


def test_usage_one_second_outside_window_passes():
    used = AS_OF - timedelta(days=7, seconds=1)
    verdict = root.root_usage(make_evidence(root_row(password_last_used=iso(used))), SETTINGS)

    assert verdict.status is Status.PASS


def test_usage_after_as_of_fails():
    used = AS_OF + timedelta(hours=1)
    verdict = root.root_usage(make_evidence(root_row(password_last_used=iso(used))), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "after the evaluation time" in verdict.message


def test_usage_latest_of_three_credentials():
    row = root_row(
        password_last_used="2025-01-01T00:00:00+00:00",
        access_key_1_active="true",
        access_key_1_last_rotated="2024-01-01T00:00:00+00:00",
        access_key_1_last_used_date="2025-02-01T00:00:00+00:00",
        access_key_2_active="true",
        access_key_2_last_rotated="2024-01-01T00:00:00+00:00",
        access_key_2_last_used_date="2026-05-31T00:00:00+00:00",
    )
    verdict = root.root_usage(make_evidence(row), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "access_key_2_last_used_date=2026-05-31T00:00:00Z" in verdict.message


@pytest.mark.parametrize("never", ["N/A", "no_information"])
def test_usage_no_recorded_use_passes(never):
    verdict = root.root_usage(make_evidence(root_row(password_last_used=never)), SETTINGS)

    assert verdict.status is Status.PASS
    assert f"password_last_used={never}" in verdict.message


def test_usage_window_zero_days():
    settings = AuditSettings(as_of=AS_OF, root_usage_days=0)
    verdict = root.root_usage(make_evidence(root_row(password_last_used=iso(AS_OF))), settings)

    assert verdict.status is Status.FAIL


def test_usage_offset_timestamp_compared_in_utc():
    # 2026-05-25T02:00:00+02:00 is 2026-05-25T00:00:00Z, exactly seven days before as_of.
    verdict = root.root_usage(make_evidence(root_row(password_last_used="2026-05-25T02:00:00+02:00")), SETTINGS)

    assert verdict.status is Status.FAIL


# --- root-access-key ----------------------------------------------------------------------


def test_access_key_active_fails_with_delete_advice():
    row = root_row(access_key_1_active="true", access_key_1_last_rotated="2020-07-01T00:00:00+00:00")
    verdict = root.root_access_key(make_evidence(row), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "access key 1 (active" in verdict.message
    assert "Delete" in verdict.message


def test_access_key_inactive_fails():
    row = root_row(access_key_2_active="false", access_key_2_last_rotated="2021-02-03T04:05:06+00:00")
    verdict = root.root_access_key(make_evidence(row), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "access key 2 (inactive" in verdict.message


def test_access_key_none_passes():
    verdict = root.root_access_key(make_evidence(root_row()), SETTINGS)

    assert verdict.status is Status.PASS
    assert verdict.evidence["access_key_1_active"] == "false"


def test_access_key_summary_newer_than_report_fails():
    generated = datetime(2026, 5, 31, 20, tzinfo=timezone.utc)
    evidence = make_evidence(
        root_row(), summary=summary(AccountAccessKeysPresent=1), generated=generated, summary_time=generated + timedelta(minutes=1)
    )
    verdict = root.root_access_key(evidence, SETTINGS)

    assert verdict.status is Status.FAIL
    assert "AccountAccessKeysPresent=1" in verdict.message
    assert "2026-05-31T20:00:00Z" in verdict.message


def test_access_key_summary_says_deleted_passes():
    row = root_row(access_key_1_active="true", access_key_1_last_rotated="2020-07-01T00:00:00+00:00")
    evidence = make_evidence(
        row, summary=summary(AccountAccessKeysPresent=0), generated=LIVE_REPORT_TIME, summary_time=LIVE_SUMMARY_TIME
    )
    verdict = root.root_access_key(evidence, SETTINGS)

    assert verdict.status is Status.PASS
    assert "deleted since" in verdict.message


def test_access_key_disagreement_of_unknown_age_fails():
    row = root_row(access_key_1_active="true", access_key_1_last_rotated="2020-07-01T00:00:00+00:00")
    verdict = root.root_access_key(make_evidence(row, summary=summary(AccountAccessKeysPresent=0)), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "nothing shows which is newer" in verdict.message


def test_access_key_summary_older_than_report_not_trusted():
    row = root_row(access_key_1_active="true", access_key_1_last_rotated="2020-07-01T00:00:00+00:00")
    evidence = make_evidence(
        row, summary=summary(AccountAccessKeysPresent=0), generated=LIVE_SUMMARY_TIME, summary_time=LIVE_REPORT_TIME
    )

    assert root.root_access_key(evidence, SETTINGS).status is Status.FAIL


def test_access_key_user_keys_ignored():
    alice = user_row("alice", access_key_1_active="true", access_key_1_last_rotated="2020-07-01T00:00:00+00:00")
    verdict = root.root_access_key(make_evidence(root_row(), alice), SETTINGS)

    assert verdict.status is Status.PASS


# --- root-mfa -----------------------------------------------------------------------------


def test_mfa_active_passes():
    verdict = root.root_mfa(make_evidence(root_row(mfa_active="true")), SETTINGS)

    assert verdict.status is Status.PASS
    assert "mfa_active=true" in verdict.message


def test_mfa_off_password_unknown_fails_pointing_to_summary():
    verdict = root.root_mfa(make_evidence(root_row(mfa_active="false")), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "password_enabled=not_supported" in verdict.message
    assert "AccountPasswordPresent" in verdict.message


def test_mfa_off_password_true_fails():
    verdict = root.root_mfa(make_evidence(root_row(mfa_active="false", password_enabled="true")), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "password_enabled=true" in verdict.message


def test_mfa_off_no_password_in_report_passes():
    verdict = root.root_mfa(make_evidence(root_row(mfa_active="false", password_enabled="false")), SETTINGS)

    assert verdict.status is Status.PASS
    assert "no password" in verdict.message


def test_mfa_off_no_password_names_leftover_key():
    row = root_row(
        mfa_active="false",
        password_enabled="false",
        access_key_1_active="true",
        access_key_1_last_rotated="2020-07-01T00:00:00+00:00",
        cert_2_active="true",
        cert_2_last_rotated="2020-07-01T00:00:00+00:00",
    )
    verdict = root.root_mfa(make_evidence(row), SETTINGS)

    assert verdict.status is Status.PASS
    assert "access key 1" in verdict.message
    assert "signing certificate 2" in verdict.message


def test_mfa_summary_password_absent_passes():
    evidence = make_evidence(root_row(mfa_active="false"), summary=summary(AccountMFAEnabled=0, AccountPasswordPresent=0))
    verdict = root.root_mfa(evidence, SETTINGS)

    assert verdict.status is Status.PASS
    assert "AccountPasswordPresent=0" in verdict.message


def test_mfa_summary_overrides_report_and_says_so():
    evidence = make_evidence(
        root_row(mfa_active="true"), summary=summary(AccountMFAEnabled=0), generated=LIVE_REPORT_TIME, summary_time=LIVE_SUMMARY_TIME
    )
    verdict = root.root_mfa(evidence, SETTINGS)

    assert verdict.status is Status.FAIL
    assert "the summary is used" in verdict.message


def test_mfa_summary_enabled_over_stale_report():
    evidence = make_evidence(
        root_row(mfa_active="false"), summary=summary(AccountMFAEnabled=1), generated=LIVE_REPORT_TIME, summary_time=LIVE_SUMMARY_TIME
    )
    verdict = root.root_mfa(evidence, SETTINGS)

    assert verdict.status is Status.PASS
    assert "mfa_active=false" in verdict.message


def test_mfa_disagreement_of_unknown_age_fails():
    evidence = make_evidence(root_row(mfa_active="false", password_enabled="true"), summary=summary(AccountMFAEnabled=1))
    verdict = root.root_mfa(evidence, SETTINGS)

    assert verdict.status is Status.FAIL
    assert "neither is trusted" in verdict.message


def test_password_disagreement_of_unknown_age_not_trusted():
    row = root_row(mfa_active="false", password_enabled="false")
    evidence = make_evidence(row, summary=summary(AccountMFAEnabled=0, AccountPasswordPresent=1))

    assert root.root_mfa(evidence, SETTINGS).status is Status.FAIL


def test_usage_stale_report_cannot_pass():
    generated = AS_OF - timedelta(days=30)
    evidence = make_evidence(root_row(password_last_used="2025-01-01T00:00:00+00:00"), generated=generated)
    verdict = root.root_usage(evidence, SETTINGS)

    assert verdict.status is Status.ERROR
    assert "2026-05-02T00:00:00Z" in verdict.message


def test_usage_stale_report_still_fails_on_seen_use():
    generated = AS_OF - timedelta(days=3)
    used = AS_OF - timedelta(days=4)
    evidence = make_evidence(root_row(password_last_used=iso(used)), generated=generated)

    assert root.root_usage(evidence, SETTINGS).status is Status.FAIL


def test_usage_report_four_hours_old_passes():
    evidence = make_evidence(root_row(), generated=AS_OF - timedelta(hours=4))

    assert root.root_usage(evidence, SETTINGS).status is Status.PASS


DEFAULT_TIME_SETTINGS = AuditSettings(as_of=AS_OF, root_usage_days=7, as_of_is_default=True)


@pytest.mark.parametrize("last_used", ["N/A", "2025-01-01T00:00:00+00:00"])
def test_usage_undated_report_at_default_time_errors(last_used):
    evidence = make_evidence(root_row(password_last_used=last_used))
    verdict = root.root_usage(evidence, DEFAULT_TIME_SETTINGS)

    assert verdict.status is Status.ERROR
    assert "generation time is unknown" in verdict.message
    assert "--as-of" in verdict.message


def test_usage_undated_report_still_fails_on_seen_use():
    used = AS_OF - timedelta(days=2)
    evidence = make_evidence(root_row(password_last_used=iso(used)))

    assert root.root_usage(evidence, DEFAULT_TIME_SETTINGS).status is Status.FAIL


def test_usage_dated_report_at_default_time_passes():
    evidence = make_evidence(root_row(), generated=AS_OF - timedelta(hours=1))

    assert root.root_usage(evidence, DEFAULT_TIME_SETTINGS).status is Status.PASS


def test_usage_undated_report_at_given_time_passes():
    evidence = make_evidence(root_row())

    assert root.root_usage(evidence, SETTINGS).status is Status.PASS


def test_usage_age_shown_to_the_second():
    used = AS_OF - timedelta(days=7, seconds=1)
    verdict = root.root_usage(make_evidence(root_row(password_last_used=iso(used))), SETTINGS)

    assert "7 days 00:00:01" in verdict.message


# --- root-hardware-mfa --------------------------------------------------------------------


def device(serial, arn):
    return VirtualMfaDevice(serial_number=f"arn:aws:iam::{ACCOUNT_ID}:mfa/{serial}", user_arn=arn)


def test_hardware_virtual_device_custom_name_fails():
    evidence = make_evidence(root_row(), devices=[device("ops-phone", ROOT_ARN)])
    verdict = root.root_hardware_mfa(evidence, SETTINGS)

    assert verdict.status is Status.FAIL
    assert "mfa/ops-phone" in verdict.message


def test_hardware_user_device_named_root_passes():
    alice_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/alice"
    evidence = make_evidence(root_row(), user_row("alice"), devices=[device("root-account-mfa-device", alice_arn)])
    verdict = root.root_hardware_mfa(evidence, SETTINGS)

    assert verdict.status is Status.PASS


def test_hardware_arn_containing_root_not_matched():
    # A user whose name contains "root" is not the root user.
    evidence = make_evidence(root_row(), devices=[device("x", f"arn:aws:iam::{ACCOUNT_ID}:user/root")])
    verdict = root.root_hardware_mfa(evidence, SETTINGS)

    assert verdict.status is Status.PASS


def test_hardware_any_virtual_among_several_fails():
    devices = [device("a", f"arn:aws:iam::{ACCOUNT_ID}:user/alice"), device("b", ROOT_ARN)]
    verdict = root.root_hardware_mfa(make_evidence(root_row(), devices=devices), SETTINGS)

    assert verdict.status is Status.FAIL
    assert "mfa/b" in verdict.message


def test_hardware_no_device_list_skips():
    verdict = root.root_hardware_mfa(make_evidence(root_row()), SETTINGS)

    assert verdict.status is Status.SKIP
    assert "ListVirtualMFADevices" in verdict.message


def test_hardware_device_list_denied_errors():
    evidence = make_evidence(root_row())
    evidence.virtual_mfa_devices_error = "ListVirtualMFADevices failed: AccessDenied"
    verdict = root.root_hardware_mfa(evidence, SETTINGS)

    assert verdict.status is Status.ERROR
    assert "AccessDenied" in verdict.message


def test_hardware_no_mfa_fails_even_without_list():
    verdict = root.root_hardware_mfa(make_evidence(root_row(mfa_active="false")), SETTINGS)

    assert verdict.status is Status.FAIL


def test_hardware_no_password_passes_naming_leftover_device():
    evidence = make_evidence(root_row(mfa_active="false", password_enabled="false"), devices=[device("old", ROOT_ARN)])
    verdict = root.root_hardware_mfa(evidence, SETTINGS)

    assert verdict.status is Status.PASS
    assert "mfa/old" in verdict.message


def test_hardware_partition_in_root_arn_matched_exactly():
    gov_like = "arn:aws-iso:iam::123456789012:root"
    evidence = make_evidence(root_row(partition="aws-iso"), devices=[device("v", gov_like)])
    verdict = root.root_hardware_mfa(evidence, SETTINGS)

    assert verdict.status is Status.FAIL


# --- shared preamble ----------------------------------------------------------------------


@pytest.mark.parametrize("control", ALL_CONTROLS)
@pytest.mark.parametrize("partition", ["aws-us-gov", "aws-cn"])
def test_partitions_without_root_skip(control, partition):
    verdict = control(make_evidence(root_row(partition=partition, mfa_active="false")), SETTINGS)

    assert verdict.status is Status.SKIP
    assert partition in verdict.message


@pytest.mark.parametrize("control", ALL_CONTROLS)
def test_no_root_row_errors(control):
    verdict = control(make_evidence(user_row("builder")), SETTINGS)

    assert verdict.status is Status.ERROR
    assert "no root row" in verdict.message


@pytest.mark.parametrize("control", ALL_CONTROLS)
def test_collection_error_errors_with_its_message(control):
    verdict = control(make_evidence(error="GenerateCredentialReport was denied"), SETTINGS)

    assert verdict.status is Status.ERROR
    assert verdict.message == "GenerateCredentialReport was denied"


@pytest.mark.parametrize("control", ALL_CONTROLS)
def test_verdict_names_its_control(control):
    verdict = control(make_evidence(root_row()), SETTINGS)

    assert verdict.control in {root.ROOT_USAGE, root.ROOT_ACCESS_KEY, root.ROOT_MFA, root.ROOT_HARDWARE_MFA}
    assert verdict.message


def test_settings_reject_naive_as_of():
    with pytest.raises(ValueError, match="timezone-aware"):
        AuditSettings(as_of=datetime(2026, 6, 1))
