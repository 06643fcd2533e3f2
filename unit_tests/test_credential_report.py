import base64
from datetime import datetime, timezone

import pytest

from awscompliance.credential_report import (
    REQUIRED_COLUMNS,
    CredentialReportError,
    Special,
    decode_report,
    parse_report,
)
from unit_tests.reports import ACCOUNT_ID, report_csv, root_row, user_row


def test_parse_types_root_row():
    report = parse_report(report_csv(root_row(), user_row("alice")))

    assert report.account_id == ACCOUNT_ID
    assert report.partition == "aws"
    assert report.root is not None
    assert report.root.password_enabled is Special.NOT_SUPPORTED
    assert report.root.mfa_active is True
    assert report.root.password_last_used == datetime(2025, 11, 2, 8, 0, tzinfo=timezone.utc)
    assert [row.user for row in report.users] == ["alice"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("N/A", Special.NOT_APPLICABLE),
        ("n/a", Special.NOT_APPLICABLE),
        ("no_information", Special.NO_INFORMATION),
        ("NO_INFORMATION", Special.NO_INFORMATION),
    ],
)
def test_special_values_not_dates(raw, expected):
    report = parse_report(report_csv(root_row(password_last_used=raw)))

    assert report.root.password_last_used is expected


@pytest.mark.parametrize(
    ("column", "raw"),
    [
        ("password_last_used", "not_supported"),
        ("access_key_1_active", "not_supported"),
        ("access_key_1_active", "N/A"),
        ("access_key_1_last_rotated", "not_supported"),
        ("access_key_1_last_rotated", "no_information"),
        ("access_key_2_last_used_date", "no_information"),
        ("mfa_active", "not_supported"),
        ("cert_1_last_rotated", "not_supported"),
        ("password_enabled", "N/A"),
    ],
)
def test_special_value_outside_its_column_rejected(column, raw):
    with pytest.raises(CredentialReportError, match=f"column {column} has '{raw}'"):
        parse_report(report_csv(root_row(**{column: raw})))


def test_key_with_last_used_date_exists():
    row = root_row(access_key_1_active="false", access_key_1_last_used_date="2026-05-31T00:00:00+00:00")
    report = parse_report(report_csv(row))

    assert report.root.access_keys[0].exists is True


def test_mixed_partitions_rejected():
    gov_user = dict(user_row("ops"), arn="arn:aws-us-gov:iam::123456789012:user/ops")

    with pytest.raises(CredentialReportError, match="several partitions"):
        parse_report(report_csv(gov_user, root_row()))


def test_utf16_report_accepted():
    text = report_csv(root_row())
    report = parse_report(text.encode("utf-16"))

    assert report.root is not None
    assert report.account_id == ACCOUNT_ID


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+05:30", "9999-12-31T23:59:59-05:00"])
def test_timestamp_out_of_range_rejected(raw):
    with pytest.raises(CredentialReportError, match="password_last_used"):
        parse_report(report_csv(root_row(password_last_used=raw)))


@pytest.mark.parametrize("raw", ["TRUE", "True", "true"])
def test_booleans_case_insensitive(raw):
    report = parse_report(report_csv(root_row(mfa_active=raw)))

    assert report.root.mfa_active is True


@pytest.mark.parametrize(
    "raw",
    ["2026-05-30T12:00:00Z", "2026-05-30T12:00:00+00:00", "2026-05-30T14:00:00+02:00", "2026-05-30T07:00:00-05:00"],
)
def test_timestamps_any_offset_same_instant(raw):
    report = parse_report(report_csv(root_row(password_last_used=raw)))

    assert report.root.password_last_used == datetime(2026, 5, 30, 12, 0, tzinfo=timezone.utc)
    assert report.root.password_last_used.utcoffset().total_seconds() == 0


def test_naive_timestamp_rejected():
    with pytest.raises(CredentialReportError, match="password_last_used.*UTC offset"):
        parse_report(report_csv(root_row(password_last_used="2026-05-30T12:00:00")))


@pytest.mark.parametrize("column", ["mfa_active", "access_key_1_active", "access_key_2_last_rotated"])
def test_empty_value_rejected_naming_column(column):
    with pytest.raises(CredentialReportError, match=f"column {column} has an empty value"):
        parse_report(report_csv(root_row(**{column: ""})))


def test_invalid_boolean_rejected():
    with pytest.raises(CredentialReportError, match="line 2 .*mfa_active has 'yes'"):
        parse_report(report_csv(root_row(mfa_active="yes")))


def test_inactive_key_still_exists():
    row = root_row(access_key_2_active="false", access_key_2_last_rotated="2021-02-03T04:05:06+00:00")
    report = parse_report(report_csv(row))

    assert report.root.access_keys[0].exists is False
    assert report.root.access_keys[1].exists is True
    assert report.root.access_keys[1].active is False


def test_key_two_read_from_own_columns():
    row = root_row(access_key_2_active="true", access_key_2_last_rotated="2022-02-02T00:00:00+00:00")
    report = parse_report(report_csv(row))

    assert report.root.access_keys[1].last_rotated == datetime(2022, 2, 2, tzinfo=timezone.utc)
    assert report.root.access_keys[0].last_rotated is Special.NOT_APPLICABLE


def test_columns_read_by_name_not_position():
    columns = tuple(reversed(REQUIRED_COLUMNS)) + ("some_future_column",)
    row = root_row(mfa_active="false", some_future_column="x")
    report = parse_report(report_csv(row, columns=columns))

    assert report.root.mfa_active is False


def test_missing_column_named():
    columns = tuple(column for column in REQUIRED_COLUMNS if column != "mfa_active")

    with pytest.raises(CredentialReportError, match="lacks column.*mfa_active"):
        parse_report(report_csv(root_row(), columns=columns))


def test_misspelled_column_named():
    columns = tuple("mfa_actve" if column == "mfa_active" else column for column in REQUIRED_COLUMNS)
    row = dict(root_row(), mfa_actve="true")

    with pytest.raises(CredentialReportError, match="mfa_active"):
        parse_report(report_csv(row, columns=columns))


def test_bom_and_crlf_accepted():
    text = report_csv(root_row(), newline="\r\n")
    report = parse_report(b"\xef\xbb\xbf" + text.encode())

    assert report.root is not None
    assert report.root.certificates[1].last_rotated is Special.NOT_APPLICABLE


def test_base64_decoded_once():
    encoded = base64.b64encode(report_csv(root_row()).encode())
    report = parse_report(encoded)

    assert report.root is not None
    assert report.text.startswith("user,arn,")


def test_base64_with_line_wrapping():
    encoded = base64.encodebytes(report_csv(root_row()).encode())  # wraps at 76 characters

    assert b"\n" in encoded.strip()
    assert parse_report(encoded).root is not None


def test_base64_twice_rejected():
    twice = base64.b64encode(base64.b64encode(report_csv(root_row()).encode()))

    with pytest.raises(CredentialReportError, match="encoded twice"):
        parse_report(twice)


def test_str_and_bytes_give_same_report():
    text = report_csv(root_row())

    assert parse_report(text).rows == parse_report(text.encode()).rows


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\x00\x01\x02binary", "binary"),
        (b"\xff\xfe,not utf8", "not UTF-8"),
        (b"a,b,c\n1,2,3\n", "not a credential report"),
        ("user,arn\n".encode(), "lacks column"),
    ],
)
def test_bad_content_rejected(content, problem):
    with pytest.raises(CredentialReportError, match=problem):
        parse_report(content)


def test_header_only_rejected():
    with pytest.raises(CredentialReportError, match="no rows"):
        parse_report(",".join(REQUIRED_COLUMNS) + "\n")


def test_row_with_missing_fields_rejected():
    text = report_csv(root_row())
    truncated = text.rstrip("\n").rsplit(",", 3)[0] + "\n"

    with pytest.raises(CredentialReportError, match="line 2 has 19 fields but the header has 22"):
        parse_report(truncated)


def test_header_not_read_as_data():
    report = parse_report(report_csv(root_row()))

    assert all(row.user != "user" for row in report.rows)


def test_root_identified_by_arn_not_name():
    impostor = user_row("<root_account>")
    report = parse_report(report_csv(impostor))

    assert report.root is None
    assert len(report.users) == 1


def test_two_root_rows_rejected():
    with pytest.raises(CredentialReportError, match="2 root rows"):
        parse_report(report_csv(root_row(), root_row()))


def test_mixed_accounts_rejected():
    with pytest.raises(CredentialReportError, match="several accounts"):
        parse_report(report_csv(root_row(), user_row("bob", account_id="999999999999")))


@pytest.mark.parametrize("partition", ["aws", "aws-us-gov", "aws-cn", "aws-iso"])
def test_partition_from_arn(partition):
    report = parse_report(report_csv(root_row(partition=partition)))

    assert report.partition == partition


def test_invalid_arn_rejected():
    with pytest.raises(CredentialReportError, match="not an IAM ARN"):
        parse_report(report_csv(root_row(arn="root")))
