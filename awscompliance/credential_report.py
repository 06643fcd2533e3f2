"""Parse an IAM credential report into typed rows.

The report is CSV with one row per IAM user plus one for the root user. boto3 returns it as CSV
bytes; the AWS CLI with `--output text` prints it base64-encoded, and users save either form.
Every value is typed here, so the controls never compare strings: timestamps become timezone-aware
UTC datetimes, booleans become `bool`, and the report's special values stay distinct members of
`Special`, because "no such credential" and "never used" lead to different verdicts.
"""

from __future__ import annotations

import base64
import binascii
import csv
import enum
import io
import re
from dataclasses import dataclass
from datetime import datetime, timezone

# The 22 documented columns. Columns are read by header name, so their order in a file does not
# matter, and extra columns that AWS may add later are ignored.
REQUIRED_COLUMNS = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
)

# The root user's row: `user` is "<root_account>" and the ARN ends in ":root". The ARN decides,
# because an IAM user may be named "<root_account>" (moto allows it) but its ARN is ":user/...".
ROOT_USER_NAME = "<root_account>"

_ARN = re.compile(r"^arn:(?P<partition>[a-z][a-z0-9-]*):iam::(?P<account>\d{12}):(?P<resource>.+)$")
_BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/=\s]+$")
_UTF8_BOM = b"\xef\xbb\xbf"


class CredentialReportError(ValueError):
    """The input is not a readable credential report; the message names the problem."""


class Special(enum.Enum):
    """The report's values that are neither dates nor booleans."""

    # The credential does not exist; for a key's `last_used_*`, the key was never used.
    NOT_APPLICABLE = "N/A"
    # `password_last_used`: never used, or not since tracking began on 2014-10-20.
    NO_INFORMATION = "no_information"
    # The field does not apply to this principal; on the root row it means "cannot tell".
    NOT_SUPPORTED = "not_supported"


_SPECIAL_BY_TEXT = {member.value.lower(): member for member in Special}

# The special values each column may contain. Any other special value in a column is an input
# error, because reading it as "absent" could hide a credential. Columns not listed take none.
_N_A = frozenset({Special.NOT_APPLICABLE})
_ALLOWED_SPECIALS: dict[str, frozenset[Special]] = {
    # Root's password_enabled is not_supported in older reports and some partitions.
    "password_enabled": frozenset({Special.NOT_SUPPORTED}),
    # N/A: no password; no_information: never used, or not since tracking began on 2014-10-20.
    "password_last_used": frozenset({Special.NOT_APPLICABLE, Special.NO_INFORMATION}),
    # Always not_supported on the root row; N/A for users without a password or rotation policy.
    "password_last_changed": frozenset({Special.NOT_APPLICABLE, Special.NOT_SUPPORTED}),
    "password_next_rotation": frozenset({Special.NOT_APPLICABLE, Special.NOT_SUPPORTED}),
    "access_key_1_last_rotated": _N_A,
    "access_key_1_last_used_date": _N_A,
    "access_key_2_last_rotated": _N_A,
    "access_key_2_last_used_date": _N_A,
    "cert_1_last_rotated": _N_A,
    "cert_2_last_rotated": _N_A,
}

Timestamp = datetime | Special
Flag = bool | Special


@dataclass(frozen=True)
class AccessKeySlot:
    """One of the two access-key slots of a report row."""

    number: int
    active: Flag
    last_rotated: Timestamp
    last_used_date: Timestamp
    last_used_region: str
    last_used_service: str

    @property
    def exists(self) -> bool:
        """Whether a key occupies the slot, active or not.

        An inactive key shows `active` = false but keeps its `last_rotated` date, and a key that
        was ever used has a `last_used_date`.
        """
        dated = isinstance(self.last_rotated, datetime) or isinstance(self.last_used_date, datetime)
        return self.active is True or dated


@dataclass(frozen=True)
class CertificateSlot:
    """One of the two signing-certificate slots of a report row."""

    number: int
    active: Flag
    last_rotated: Timestamp

    @property
    def exists(self) -> bool:
        """Whether a certificate occupies the slot, active or not."""
        return self.active is True or isinstance(self.last_rotated, datetime)


@dataclass(frozen=True)
class CredentialRow:
    """One typed row of the report."""

    # 1-based line number in the CSV text, for messages.
    line: int
    user: str
    arn: str
    partition: str
    account_id: str
    user_creation_time: Timestamp
    password_enabled: Flag
    password_last_used: Timestamp
    password_last_changed: Timestamp
    password_next_rotation: Timestamp
    mfa_active: Flag
    access_keys: tuple[AccessKeySlot, AccessKeySlot]
    certificates: tuple[CertificateSlot, CertificateSlot]

    @property
    def is_root(self) -> bool:
        return self.arn.endswith(":root")


@dataclass(frozen=True)
class CredentialReport:
    """A parsed report: its rows, the root row if present, and the account it describes."""

    # The decoded CSV text, kept so that evidence can be saved and reloaded unchanged.
    text: str
    rows: tuple[CredentialRow, ...]
    root: CredentialRow | None
    account_id: str
    partition: str

    @property
    def users(self) -> tuple[CredentialRow, ...]:
        """The IAM user rows, without the root row."""
        return tuple(row for row in self.rows if not row.is_root)


def parse_report(content: bytes | str) -> CredentialReport:
    """Parse a credential report given as CSV or base64 text, bytes or str.

    Raises CredentialReportError naming the first problem: empty or binary input, a missing
    column, a row with the wrong number of fields, or a value of the wrong type.
    """
    text = decode_report(content)
    rows = _parse_rows(text)
    if not rows:
        raise CredentialReportError("the report has a header but no rows")

    account_ids = sorted({row.account_id for row in rows})
    if len(account_ids) > 1:
        raise CredentialReportError(f"the report mixes rows of several accounts: {', '.join(account_ids)}")
    # An account lives in one partition. A report that names several would decide the partition,
    # and so whether root controls apply, from whichever row came first.
    partitions = sorted({row.partition for row in rows})
    if len(partitions) > 1:
        raise CredentialReportError(f"the report mixes ARNs of several partitions: {', '.join(partitions)}")

    root_rows = [row for row in rows if row.is_root]
    if len(root_rows) > 1:
        lines = ", ".join(str(row.line) for row in root_rows)
        raise CredentialReportError(f"the report has {len(root_rows)} root rows (lines {lines})")

    return CredentialReport(
        text=text,
        rows=tuple(rows),
        root=root_rows[0] if root_rows else None,
        account_id=rows[0].account_id,
        partition=rows[0].partition,
    )


def decode_report(content: bytes | str) -> str:
    """Return the report's CSV text, decoding base64 once if the input is base64.

    A decoded report always contains commas, which base64 never does, so the two forms cannot be
    confused. A byte-order mark is dropped; CRLF line ends are left to the CSV reader.
    """
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    if not data.strip():
        raise CredentialReportError("the file is empty")
    data = _utf16_to_utf8(data)
    if b"\x00" in data:
        raise CredentialReportError("the file is binary (it contains NUL bytes), not a CSV report")

    data = data.removeprefix(_UTF8_BOM)
    if _BASE64_TEXT.match(data):
        data = _decode_base64(data)
        if _BASE64_TEXT.match(data):
            raise CredentialReportError("the file is base64 encoded twice; decode it once to get the CSV report")

    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CredentialReportError(f"the file is not UTF-8 text (invalid byte at offset {error.start})") from None


def _utf16_to_utf8(data: bytes) -> bytes:
    """Re-encode UTF-16 text with a byte-order mark as UTF-8.

    Windows PowerShell 5 writes redirected command output (`aws ... > report.csv`) as UTF-16.
    """
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data
    try:
        return data.decode("utf-16").encode("utf-8")
    except UnicodeDecodeError:
        return data  # not valid UTF-16 after all; the NUL check below rejects it


def _decode_base64(data: bytes) -> bytes:
    compact = b"".join(data.split())
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as error:
        raise CredentialReportError(f"the file looks like base64 but does not decode: {error}") from None
    if not decoded.strip():
        raise CredentialReportError("the file is base64 of empty content")
    if b"\x00" in decoded:
        raise CredentialReportError("the file decodes from base64 to binary data, not a CSV report")
    return decoded.removeprefix(_UTF8_BOM)


def _parse_rows(text: str) -> list[CredentialRow]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CredentialReportError("the file has no header line") from None
    except csv.Error as error:
        raise CredentialReportError(f"the header line is not valid CSV: {error}") from None

    columns = [name.strip() for name in header]
    # Missing columns are checked first: a file without its header line has a data row there,
    # and "lacks column user" describes that better than its repeated values would.
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise CredentialReportError(
            f"not a credential report: the header lacks column(s) {', '.join(missing)}"
            f" (first line: {_shorten(','.join(header))!r})"
        )
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates:
        raise CredentialReportError(f"the header repeats column(s): {', '.join(duplicates)}")

    rows = []
    try:
        for fields in reader:
            if not any(value.strip() for value in fields):
                continue  # blank lines, such as a trailing newline
            if len(fields) != len(columns):
                raise CredentialReportError(
                    f"line {reader.line_num} has {len(fields)} fields but the header has {len(columns)}"
                )
            rows.append(_parse_row(dict(zip(columns, fields)), reader.line_num))
    except csv.Error as error:
        raise CredentialReportError(f"line {reader.line_num} is not valid CSV: {error}") from None
    return rows


def _parse_row(values: dict[str, str], line: int) -> CredentialRow:
    user = values["user"].strip()
    arn = values["arn"].strip()
    match = _ARN.match(arn)
    if match is None:
        raise CredentialReportError(f"line {line} (user {user!r}): arn {_shorten(arn)!r} is not an IAM ARN")

    field = _FieldReader(values, line, user)
    return CredentialRow(
        line=line,
        user=user,
        arn=arn,
        partition=match["partition"],
        account_id=match["account"],
        user_creation_time=field.timestamp("user_creation_time"),
        password_enabled=field.flag("password_enabled"),
        password_last_used=field.timestamp("password_last_used"),
        password_last_changed=field.timestamp("password_last_changed"),
        password_next_rotation=field.timestamp("password_next_rotation"),
        mfa_active=field.flag("mfa_active"),
        access_keys=(field.access_key(1), field.access_key(2)),
        certificates=(field.certificate(1), field.certificate(2)),
    )


@dataclass(frozen=True)
class _FieldReader:
    """Types the cells of one row and names the row in every error."""

    values: dict[str, str]
    line: int
    user: str

    def flag(self, column: str) -> Flag:
        raw = self.values[column].strip()
        lowered = raw.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        special = self._special(column, lowered)
        if special is not None:
            return special
        raise self._invalid(column, raw, self._expected(column, "true, false"))

    def timestamp(self, column: str) -> Timestamp:
        raw = self.values[column].strip()
        special = self._special(column, raw.lower())
        if special is not None:
            return special
        try:
            parsed = datetime.fromisoformat(raw)
        except (ValueError, OverflowError):
            raise self._invalid(column, raw, self._expected(column, "an ISO 8601 timestamp")) from None
        if parsed.tzinfo is None:
            # Without an offset the instant depends on the reader's time zone, so it is rejected.
            raise self._invalid(column, raw, "a timestamp with a UTC offset such as +00:00 or Z")
        try:
            return parsed.astimezone(timezone.utc)
        except OverflowError:
            raise self._invalid(column, raw, "a timestamp within the years 1 to 9999 in UTC") from None

    def text(self, column: str) -> str:
        return self.values[column].strip()

    def access_key(self, number: int) -> AccessKeySlot:
        prefix = f"access_key_{number}_"
        return AccessKeySlot(
            number=number,
            active=self.flag(prefix + "active"),
            last_rotated=self.timestamp(prefix + "last_rotated"),
            last_used_date=self.timestamp(prefix + "last_used_date"),
            last_used_region=self.text(prefix + "last_used_region"),
            last_used_service=self.text(prefix + "last_used_service"),
        )

    def certificate(self, number: int) -> CertificateSlot:
        prefix = f"cert_{number}_"
        return CertificateSlot(
            number=number,
            active=self.flag(prefix + "active"),
            last_rotated=self.timestamp(prefix + "last_rotated"),
        )

    def _special(self, column: str, lowered: str) -> Special | None:
        special = _SPECIAL_BY_TEXT.get(lowered)
        if special is not None and special in _ALLOWED_SPECIALS.get(column, frozenset()):
            return special
        return None

    def _expected(self, column: str, kind: str) -> str:
        specials = sorted(special.value for special in _ALLOWED_SPECIALS.get(column, frozenset()))
        return " or ".join([kind, *specials]) if specials else kind

    def _invalid(self, column: str, raw: str, expected: str) -> CredentialReportError:
        shown = repr(_shorten(raw)) if raw else "an empty value"
        return CredentialReportError(
            f"line {self.line} (user {self.user!r}): column {column} has {shown}, expected {expected}"
        )


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_value(value: Timestamp | Flag | None) -> str:
    """Render a typed report value the way the report writes it, for messages and evidence."""
    if value is None:
        return "unknown"
    if isinstance(value, Special):
        return value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat().replace("+00:00", "Z")
