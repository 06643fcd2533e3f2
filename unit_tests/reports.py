"""Hand-written credential reports for unit tests.

moto's report has no root row and fills some columns differently from AWS, so these builders are
the reference for edge values. Every builder writes the 22 documented columns.
"""

from __future__ import annotations

from awscompliance.credential_report import REQUIRED_COLUMNS

ACCOUNT_ID = "123456789012"

# A root row as AWS writes it for a root user with a password, MFA and no keys.
ROOT_ROW = {
    "user": "<root_account>",
    "arn": f"arn:aws:iam::{ACCOUNT_ID}:root",
    "user_creation_time": "2019-03-04T10:15:22+00:00",
    "password_enabled": "not_supported",
    "password_last_used": "2025-11-02T08:00:00+00:00",
    "password_last_changed": "not_supported",
    "password_next_rotation": "not_supported",
    "mfa_active": "true",
    "access_key_1_active": "false",
    "access_key_1_last_rotated": "N/A",
    "access_key_1_last_used_date": "N/A",
    "access_key_1_last_used_region": "N/A",
    "access_key_1_last_used_service": "N/A",
    "access_key_2_active": "false",
    "access_key_2_last_rotated": "N/A",
    "access_key_2_last_used_date": "N/A",
    "access_key_2_last_used_region": "N/A",
    "access_key_2_last_used_service": "N/A",
    "cert_1_active": "false",
    "cert_1_last_rotated": "N/A",
    "cert_2_active": "false",
    "cert_2_last_rotated": "N/A",
}


def user_row(name: str, account_id: str = ACCOUNT_ID, **overrides: str) -> dict[str, str]:
    """Return an IAM user's row with a password, MFA and no keys."""
    row = dict(ROOT_ROW, user=name, arn=f"arn:aws:iam::{account_id}:user/{name}")
    row.update(password_enabled="true", password_last_changed="2022-01-10T09:05:00+00:00", password_next_rotation="N/A")
    row.update(overrides)
    return row


def root_row(account_id: str = ACCOUNT_ID, partition: str = "aws", **overrides: str) -> dict[str, str]:
    """Return a root row, with column values replaced by `overrides`."""
    row = dict(ROOT_ROW, arn=f"arn:{partition}:iam::{account_id}:root")
    row.update(overrides)
    return row


def report_csv(*rows: dict[str, str], columns: tuple[str, ...] = REQUIRED_COLUMNS, newline: str = "\n") -> str:
    """Render rows as credential-report CSV text with the given column order."""
    lines = [",".join(columns)]
    lines += [",".join(row.get(column, "") for column in columns) for row in rows]
    return newline.join(lines) + newline
