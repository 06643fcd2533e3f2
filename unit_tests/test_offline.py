"""Tests for loading and saving offline evidence (awscompliance.offline)."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from awscompliance.credential_report import REQUIRED_COLUMNS, parse_report
from awscompliance.evidence import Account, Evidence, VirtualMfaDevice
from awscompliance.offline import (
    EvidenceFormatError,
    OfflineSourceError,
    evidence_from_dict,
    evidence_to_dict,
    format_utc,
    load_evidence,
    save_evidence,
)
from unit_tests.shared_cases import CASES, load_expected

EXPECTED = load_expected()
ACCOUNT_BY_CASE = {entry["case"]: account_id for account_id, entry in EXPECTED["accounts"].items()}

GOOD_ID = "222200000001"
BAD_ID = "222200000002"
OTHER_ID = "999900000009"


def report_row(account_id: str, user: str = "<root_account>", resource: str = "root") -> str:
    values = {column: "N/A" for column in REQUIRED_COLUMNS}
    values.update(
        user=user,
        arn=f"arn:aws:iam::{account_id}:{resource}",
        user_creation_time="2019-03-04T10:15:22+00:00",
        password_enabled="not_supported",
        password_last_used="no_information",
        password_last_changed="not_supported",
        password_next_rotation="not_supported",
        mfa_active="true",
        access_key_1_active="false",
        access_key_2_active="false",
        cert_1_active="false",
        cert_2_active="false",
    )
    return ",".join(values[column] for column in REQUIRED_COLUMNS)


def report_text(account_id: str, newline: str = "\n") -> str:
    lines = [",".join(REQUIRED_COLUMNS), report_row(account_id), report_row(account_id, "alice", "user/alice")]
    return newline.join(lines) + newline


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def write_json(path: Path, data: object) -> Path:
    return write(path, json.dumps(data, indent=2))


def device_json(account_id: str, resource: str = "root", serial: str = "ops-phone") -> dict:
    return {
        "SerialNumber": f"arn:aws:iam::{account_id}:mfa/{serial}",
        "User": {"UserName": resource, "Arn": f"arn:aws:iam::{account_id}:{resource}"},
        "EnableDate": "2024-02-01T12:00:00+00:00",
    }


def by_id(evidence: list[Evidence]) -> dict[str | None, Evidence]:
    return {item.account_id: item for item in evidence}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder tree with one good account, to which each test adds a bad one."""
    write(tmp_path / "good" / "credential_report.csv", report_text(GOOD_ID))
    return tmp_path


def assert_good_loaded(evidence: list[Evidence]) -> None:
    good = by_id(evidence)[GOOD_ID]
    assert good.error is None
    assert good.credential_report is not None
    assert good.account.name == "good"


# --- The shared cases ---------------------------------------------------------------------------

CASE_NAMES = sorted(ACCOUNT_BY_CASE)


def test_cases_root_loads_every_case():
    evidence = load_evidence(CASES)

    assert len(evidence) == len(CASE_NAMES)
    assert {item.account_id for item in evidence} == set(EXPECTED["accounts"])
    assert [item.error for item in evidence] == [None] * len(CASE_NAMES)


def test_cases_root_names_accounts_by_folder():
    evidence = load_evidence(CASES)

    for item in evidence:
        assert item.account.name == EXPECTED["accounts"][item.account_id]["case"]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_case_folder_loads(case: str):
    folder = CASES / case

    evidence = load_evidence(folder)

    assert len(evidence) == 1
    item = evidence[0]
    assert item.error is None
    assert item.account_id == ACCOUNT_BY_CASE[case]
    assert item.account.account_id == ACCOUNT_BY_CASE[case]
    assert item.account.source == str(folder / "credential_report.csv")
    assert item.account.name is None
    assert item.credential_report is not None
    assert (item.account_summary is not None) == (folder / "account_summary.json").exists()
    assert (item.virtual_mfa_devices is not None) == (folder / "virtual_mfa_devices.json").exists()


def test_case_file_path_loads():
    path = CASES / "clean-root" / "credential_report.csv"

    evidence = load_evidence(str(path))

    assert len(evidence) == 1
    assert evidence[0].error is None
    assert evidence[0].account_id == ACCOUNT_BY_CASE["clean-root"]
    assert evidence[0].account.name == "clean-root"
    assert evidence[0].account.source == str(path)


def test_case_file_path_attaches_sidecars():
    evidence = load_evidence(CASES / "root-virtual-mfa-custom-name" / "credential_report.csv")

    assert evidence[0].account_summary is not None
    assert evidence[0].virtual_mfa_devices is not None


def test_case_sidecars_are_typed():
    item = by_id(load_evidence(CASES / "root-virtual-mfa-custom-name"))[ACCOUNT_BY_CASE["root-virtual-mfa-custom-name"]]

    assert item.account_summary["AccountMFAEnabled"] == 1
    assert item.account_summary["AccountPasswordPresent"] == 1
    assert item.virtual_mfa_devices == [
        VirtualMfaDevice(
            serial_number="arn:aws:iam::111100000008:mfa/ops-phone",
            user_arn="arn:aws:iam::111100000008:root",
            enable_date=datetime(2024, 2, 1, 12, tzinfo=timezone.utc),
        )
    ]


def test_case_no_root_row_loads_without_error():
    item = load_evidence(CASES / "no-root-row")[0]

    assert item.error is None
    assert item.credential_report.root is None
    assert item.account_id == ACCOUNT_BY_CASE["no-root-row"]


def test_case_base64_matches_decoded_rows():
    item = load_evidence(CASES / "cli-base64-content")[0]

    assert item.credential_report.root is not None
    assert item.credential_report.text.startswith("user,arn,")


# --- Bad reports ----------------------------------------------------------------------------------

BAD_REPORTS = [
    pytest.param(b"", "empty", id="empty"),
    pytest.param(b"  \r\n\n", "empty", id="blank-lines"),
    pytest.param(report_row(BAD_ID).encode() + b"\n", "header lacks column", id="no-header"),
    pytest.param(b"alice,bob\n", "header lacks column", id="short-header"),
    pytest.param(b"name,age\nbob,3\n", "not a credential report", id="other-csv"),
    pytest.param(
        (",".join(REQUIRED_COLUMNS) + "\n<root_account>,arn:aws:iam::222200000002:root,x,y,z\n").encode(),
        "has 5 fields but the header has 22",
        id="missing-fields",
    ),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary", id="binary"),
    pytest.param(b"dXNlcixhcm4", "does not decode", id="bad-base64"),
    pytest.param(b"u\x00s\x00e\x00r\x00,\x00", "binary", id="utf16-without-bom"),
    pytest.param(
        (",".join(REQUIRED_COLUMNS) + "\n" + report_row("12345")).encode(),
        "is not an IAM ARN",
        id="bad-arn",
    ),
]


@pytest.mark.parametrize(("content", "problem"), BAD_REPORTS)
def test_bad_report_is_account_error(tree: Path, content: bytes, problem: str):
    path = write(tree / "bad" / "credential_report.csv", content)

    evidence = load_evidence(tree)

    assert len(evidence) == 2
    bad = by_id(evidence)[None]
    assert str(path) in bad.error
    assert problem in bad.error
    assert "get-credential-report" in bad.error
    assert "Traceback" not in bad.error
    assert bad.account.source == str(path)
    assert bad.credential_report is None
    assert_good_loaded(evidence)


def test_bad_report_keeps_collection_account_id(tree: Path):
    write(tree / "bad" / "credential_report.csv", b"")
    write_json(tree / "bad" / "collection.json", {"account_id": BAD_ID, "name": "bad-account", "source": "profile bad"})

    bad = by_id(load_evidence(tree))[BAD_ID]

    assert "empty" in bad.error
    assert bad.account.name == "bad-account"


def test_unreadable_report_is_account_error(tree: Path, monkeypatch: pytest.MonkeyPatch):
    path = write(tree / "bad" / "credential_report.csv", report_text(BAD_ID))
    read_bytes = Path.read_bytes

    def deny_bad_report(self: Path) -> bytes:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", deny_bad_report)

    evidence = load_evidence(tree)

    bad = by_id(evidence)[None]
    assert str(path) in bad.error
    assert "cannot be read (Permission denied)" in bad.error
    assert_good_loaded(evidence)


# --- Bad sidecar files ----------------------------------------------------------------------------

BAD_SIDECARS = [
    pytest.param("account_summary.json", b"{", "invalid JSON", id="summary-invalid-json"),
    pytest.param("account_summary.json", b"", "empty", id="summary-empty"),
    pytest.param("account_summary.json", b"\xff\xfe{}", "not UTF-8", id="summary-not-utf8"),
    pytest.param("account_summary.json", b"[]", "contains an array", id="summary-array"),
    pytest.param("account_summary.json", b"{}", "SummaryMap is missing", id="summary-no-map"),
    pytest.param("account_summary.json", b'{"SummaryMap": []}', "SummaryMap is an array", id="summary-map-array"),
    pytest.param(
        "account_summary.json",
        b'{"SummaryMap": {"AccountMFAEnabled": "1"}}',
        'AccountMFAEnabled is "1", expected a non-negative integer',
        id="summary-string-counter",
    ),
    pytest.param(
        "account_summary.json",
        b'{"SummaryMap": {"AccountMFAEnabled": true}}',
        "AccountMFAEnabled is true",
        id="summary-bool-counter",
    ),
    pytest.param(
        "account_summary.json",
        b'{"SummaryMap": {"AccountMFAEnabled": 1.0}}',
        "AccountMFAEnabled is 1.0",
        id="summary-float-counter",
    ),
    pytest.param(
        "account_summary.json",
        b'{"SummaryMap": {"AccountMFAEnabled": -1}}',
        "AccountMFAEnabled is -1",
        id="summary-negative-counter",
    ),
    pytest.param("account_summary.json", b"[" * 100000, "invalid JSON", id="summary-deep-nesting"),
    pytest.param("virtual_mfa_devices.json", b"{}", "VirtualMFADevices is missing", id="devices-no-list"),
    pytest.param(
        "virtual_mfa_devices.json", b'{"VirtualMFADevices": {}}', "VirtualMFADevices is an object", id="devices-object"
    ),
    pytest.param(
        "virtual_mfa_devices.json", b'{"VirtualMFADevices": [1]}', "VirtualMFADevices[0] is a number", id="devices-item"
    ),
    pytest.param(
        "virtual_mfa_devices.json",
        b'{"VirtualMFADevices": [{"User": {"Arn": "arn:aws:iam::222200000002:root"}}]}',
        "VirtualMFADevices[0].SerialNumber is null",
        id="devices-no-serial",
    ),
    pytest.param(
        "virtual_mfa_devices.json",
        b'{"VirtualMFADevices": [{"SerialNumber": "arn:aws:iam::222200000002:mfa/a", "User": {}}]}',
        "User.Arn is null",
        id="devices-user-no-arn",
    ),
    pytest.param(
        "virtual_mfa_devices.json",
        b'{"VirtualMFADevices": [{"SerialNumber": "arn:aws:iam::222200000002:mfa/a", "EnableDate": "yesterday"}]}',
        "EnableDate is 'yesterday'",
        id="devices-bad-date",
    ),
    pytest.param(
        "virtual_mfa_devices.json",
        b'{"VirtualMFADevices": [{"SerialNumber": "arn:aws:iam::222200000002:mfa/a", "EnableDate": "2024-02-01T12:00:00"}]}',
        "UTC offset",
        id="devices-naive-date",
    ),
    pytest.param(
        "virtual_mfa_devices.json",
        b'{"VirtualMFADevices": [], "IsTruncated": true, "Marker": "abc"}',
        "incomplete",
        id="devices-truncated",
    ),
    pytest.param(
        "virtual_mfa_devices.json", b'{"VirtualMFADevices": [], "NextToken": "abc"}', "incomplete", id="devices-next-token"
    ),
    pytest.param(
        "virtual_mfa_devices.json",
        b'{"VirtualMFADevices": [], "IsTruncated": "false"}',
        "IsTruncated is \"false\"",
        id="devices-truncated-string",
    ),
    pytest.param("collection.json", b'"x"', "contains a string", id="collection-string"),
    pytest.param("collection.json", b'{"name": 3}', "name is 3", id="collection-name-number"),
    pytest.param("collection.json", b'{"account_id": "12"}', "12-digit", id="collection-bad-id"),
    pytest.param(
        "collection.json", b'{"report_generated_time": "soon"}', "report_generated_time is 'soon'", id="collection-bad-time"
    ),
]


@pytest.mark.parametrize(("name", "content", "problem"), BAD_SIDECARS)
def test_bad_sidecar_is_account_error(tree: Path, name: str, content: bytes, problem: str):
    write(tree / "bad" / "credential_report.csv", report_text(BAD_ID))
    path = write(tree / "bad" / name, content)

    evidence = load_evidence(tree)

    assert len(evidence) == 2
    bad = by_id(evidence)[BAD_ID]
    assert bad.error is not None
    assert str(path) in bad.error
    assert problem in bad.error
    assert "Traceback" not in bad.error
    assert bad.credential_report is None
    assert bad.account_summary is None
    assert_good_loaded(evidence)


def test_truncated_devices_say_what_to_do(tree: Path):
    write(tree / "bad" / "credential_report.csv", report_text(BAD_ID))
    write_json(tree / "bad" / "virtual_mfa_devices.json", {"VirtualMFADevices": [], "IsTruncated": True})

    bad = by_id(load_evidence(tree))[BAD_ID]

    assert "IsTruncated is true" in bad.error
    assert "root device may be missing" in bad.error
    assert "without --max-items" in bad.error


def test_devices_of_other_account_are_error(tree: Path):
    write(tree / "bad" / "credential_report.csv", report_text(BAD_ID))
    path = write_json(tree / "bad" / "virtual_mfa_devices.json", {"VirtualMFADevices": [device_json(OTHER_ID)]})

    evidence = load_evidence(tree)

    bad = by_id(evidence)[BAD_ID]
    assert str(path) in bad.error
    assert f"arn:aws:iam::{OTHER_ID}:root" in bad.error
    assert f"is for account {BAD_ID}" in bad.error
    assert bad.virtual_mfa_devices is None
    assert_good_loaded(evidence)


def test_device_serial_of_other_account_is_error(tree: Path):
    write(tree / "bad" / "credential_report.csv", report_text(BAD_ID))
    device = device_json(BAD_ID)
    device["SerialNumber"] = f"arn:aws:iam::{OTHER_ID}:mfa/phone"
    write_json(tree / "bad" / "virtual_mfa_devices.json", {"VirtualMFADevices": [device]})

    bad = by_id(load_evidence(tree))[BAD_ID]

    assert f"arn:aws:iam::{OTHER_ID}:mfa/phone" in bad.error


def test_collection_of_other_account_is_error(tree: Path):
    write(tree / "bad" / "credential_report.csv", report_text(BAD_ID))
    path = write_json(tree / "bad" / "collection.json", {"account_id": OTHER_ID})

    evidence = load_evidence(tree)

    bad = by_id(evidence)[BAD_ID]
    assert str(path) in bad.error
    assert f"account_id is {OTHER_ID}" in bad.error
    assert_good_loaded(evidence)


def test_sidecar_with_byte_order_mark_loads(tree: Path):
    write(tree / "bad" / "credential_report.csv", report_text(BAD_ID))
    write(tree / "bad" / "account_summary.json", b"\xef\xbb\xbf" + b'{"SummaryMap": {"AccountMFAEnabled": 1}}')

    item = by_id(load_evidence(tree))[BAD_ID]

    assert item.error is None
    assert item.account_summary == {"AccountMFAEnabled": 1}


def test_unassigned_device_has_no_user(tree: Path):
    write(tree / "bad" / "credential_report.csv", report_text(BAD_ID))
    write_json(
        tree / "bad" / "virtual_mfa_devices.json",
        {"VirtualMFADevices": [{"SerialNumber": f"arn:aws:iam::{BAD_ID}:mfa/spare"}], "IsTruncated": False},
    )

    item = by_id(load_evidence(tree))[BAD_ID]

    assert item.error is None
    assert item.virtual_mfa_devices == [VirtualMfaDevice(f"arn:aws:iam::{BAD_ID}:mfa/spare", None, None)]


def test_enable_date_becomes_utc(tree: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    device = device_json(BAD_ID)
    device["EnableDate"] = "2024-02-01T14:00:00+02:00"
    write(tree / "bad" / "credential_report.csv", report_text(BAD_ID))
    write_json(tree / "bad" / "virtual_mfa_devices.json", {"VirtualMFADevices": [device]})

    try:
        item = by_id(load_evidence(tree))[BAD_ID]
    finally:
        monkeypatch.undo()
        time.tzset()

    enable_date = item.virtual_mfa_devices[0].enable_date
    assert enable_date == datetime(2024, 2, 1, 12, tzinfo=timezone.utc)
    assert enable_date.tzinfo is timezone.utc


# --- Report encodings -----------------------------------------------------------------------------


def test_base64_with_crlf_wrapping_loads(tmp_path: Path):
    encoded = base64.b64encode(report_text(GOOD_ID).encode()).decode()
    wrapped = "\r\n".join(encoded[start : start + 76] for start in range(0, len(encoded), 76)) + "\r\n"
    write(tmp_path / "credential_report.csv", wrapped)

    item = load_evidence(tmp_path)[0]

    assert item.error is None
    assert item.account_id == GOOD_ID
    assert item.credential_report == parse_report(report_text(GOOD_ID))


def test_bom_and_base64_loads(tmp_path: Path):
    encoded = base64.b64encode(report_text(GOOD_ID).encode())
    write(tmp_path / "credential_report.csv", b"\xef\xbb\xbf" + encoded + b"\n")

    item = load_evidence(tmp_path)[0]

    assert item.error is None
    assert item.account_id == GOOD_ID


def test_bom_and_crlf_csv_loads(tmp_path: Path):
    write(tmp_path / "credential_report.csv", b"\xef\xbb\xbf" + report_text(GOOD_ID, "\r\n").encode())

    item = load_evidence(tmp_path)[0]

    assert item.error is None
    assert len(item.credential_report.rows) == 2


def test_report_of_other_name_loads_as_file(tmp_path: Path):
    path = write(tmp_path / "acct" / "report.txt", base64.b64encode(report_text(GOOD_ID).encode()))

    item = load_evidence(path)[0]

    assert item.error is None
    assert item.account.name == "acct"


# --- Folder layout --------------------------------------------------------------------------------


def test_nested_tree_loads_in_sorted_order(tmp_path: Path):
    write(tmp_path / "top.csv", report_text("333300000001"))
    write(tmp_path / "b" / "credential_report.csv", report_text("333300000002"))
    write(tmp_path / "a" / "x" / "y" / "credential_report.csv", report_text("333300000003"))
    write(tmp_path / "a" / "credential_report.csv", report_text("333300000004"))

    evidence = load_evidence(tmp_path)

    assert [item.account.name for item in evidence] == [None, "a", "y", "b"]
    assert [item.account_id for item in evidence] == ["333300000001", "333300000004", "333300000003", "333300000002"]
    assert [item.error for item in evidence] == [None] * 4


def test_folder_keeps_other_files_out(tmp_path: Path):
    write(tmp_path / "acct" / "credential_report.csv", report_text(GOOD_ID))
    write(tmp_path / "acct" / "notes.txt", "not evidence")
    write(tmp_path / "expected.json", "{}")

    evidence = load_evidence(tmp_path)

    assert len(evidence) == 1
    assert evidence[0].error is None


def test_missing_path_raises(tmp_path: Path):
    missing = tmp_path / "nowhere"

    with pytest.raises(OfflineSourceError, match="no such file or folder") as raised:
        load_evidence(missing)

    assert str(missing) in str(raised.value)


def test_folder_without_reports_raises(tmp_path: Path):
    write(tmp_path / "notes.txt", "nothing here")

    with pytest.raises(OfflineSourceError, match="no credential reports") as raised:
        load_evidence(tmp_path)

    assert str(tmp_path) in str(raised.value)


def test_duplicate_account_gets_one_error(tree: Path):
    first = write(tree / "x" / "credential_report.csv", report_text(BAD_ID))
    second = write(tree / "y" / "credential_report.csv", report_text(BAD_ID))

    evidence = load_evidence(tree)

    assert len(evidence) == 2
    duplicate = by_id(evidence)[BAD_ID]
    assert str(first) in duplicate.error
    assert str(second) in duplicate.error
    assert "Keep one report per account" in duplicate.error
    assert duplicate.credential_report is None
    assert_good_loaded(evidence)


def test_duplicate_in_one_folder_gets_one_error(tmp_path: Path):
    write(tmp_path / "credential_report.csv", report_text(BAD_ID))
    write(tmp_path / "copy.csv", base64.b64encode(report_text(BAD_ID).encode()))

    evidence = load_evidence(tmp_path)

    assert len(evidence) == 1
    assert "2 places" in evidence[0].error


def test_duplicate_keeps_earlier_errors(tmp_path: Path):
    write(tmp_path / "x" / "credential_report.csv", report_text(BAD_ID))
    write(tmp_path / "y" / "credential_report.csv", report_text(BAD_ID))
    write_json(tmp_path / "y" / "account_summary.json", {"SummaryMap": {"AccountMFAEnabled": "yes"}})

    evidence = load_evidence(tmp_path)

    assert len(evidence) == 1
    assert "2 places" in evidence[0].error
    assert "AccountMFAEnabled" in evidence[0].error


def test_several_reports_with_sidecars_are_errors(tree: Path):
    first = write(tree / "bad" / "a.csv", report_text(BAD_ID))
    second = write(tree / "bad" / "b.csv", report_text(OTHER_ID))
    write_json(tree / "bad" / "account_summary.json", {"SummaryMap": {"AccountMFAEnabled": 1}})

    evidence = load_evidence(tree)

    assert len(evidence) == 3
    for account_id, path in ((BAD_ID, first), (OTHER_ID, second)):
        item = by_id(evidence)[account_id]
        assert item.account.source == str(path)
        assert str(path) in item.error
        assert str(tree / "bad") in item.error
        assert "a folder of its own" in item.error
        assert item.account_summary is None
    assert_good_loaded(evidence)


def test_several_reports_without_sidecars_load(tmp_path: Path):
    write(tmp_path / "a.csv", report_text(BAD_ID))
    write(tmp_path / "b.csv", report_text(OTHER_ID))

    evidence = load_evidence(tmp_path)

    assert [item.account_id for item in evidence] == [BAD_ID, OTHER_ID]
    assert [item.error for item in evidence] == [None, None]


def test_file_path_with_shared_sidecars_is_error(tmp_path: Path):
    path = write(tmp_path / "a.csv", report_text(BAD_ID))
    write(tmp_path / "b.csv", report_text(OTHER_ID))
    write_json(tmp_path / "virtual_mfa_devices.json", {"VirtualMFADevices": []})

    evidence = load_evidence(path)

    assert len(evidence) == 1
    assert "a folder of its own" in evidence[0].error


def test_sidecars_without_report_are_error(tree: Path):
    folder = tree / "bad"
    write_json(folder / "account_summary.json", {"SummaryMap": {"AccountMFAEnabled": 1}})

    evidence = load_evidence(tree)

    assert len(evidence) == 2
    bad = by_id(evidence)[None]
    assert str(folder) in bad.error
    assert "no credential report" in bad.error
    assert_good_loaded(evidence)


# --- Saving and loading back ----------------------------------------------------------------------

GENERATED = datetime(2026, 5, 31, 22, 30, tzinfo=timezone.utc)


def saved_examples() -> list[Evidence]:
    """Evidence in the forms live collection produces: complete, partial and failed."""
    report = parse_report(report_text(GOOD_ID, "\r\n"))
    devices = [
        VirtualMfaDevice(f"arn:aws:iam::{GOOD_ID}:mfa/phone", f"arn:aws:iam::{GOOD_ID}:root", GENERATED),
        VirtualMfaDevice(f"arn:aws:iam::{GOOD_ID}:mfa/spare", None, None),
    ]
    return [
        Evidence(
            account=Account(GOOD_ID, "profile prod", "prod"),
            credential_report=report,
            report_generated_time=GENERATED,
            account_summary={"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0},
            virtual_mfa_devices=devices,
        ),
        Evidence(
            account=Account(BAD_ID, "profile partial", None),
            credential_report=parse_report(report_text(BAD_ID)),
            account_summary_error="AccessDenied on iam:GetAccountSummary",
            virtual_mfa_devices_error="AccessDenied on iam:ListVirtualMFADevices",
        ),
        Evidence(account=Account(OTHER_ID, "profile denied", "denied"), error="AccessDenied on iam:GetCredentialReport"),
        Evidence(account=Account(None, "profile broken/creds", None), error="The config profile could not be found"),
    ]


def test_save_load_round_trip(tmp_path: Path):
    evidence = saved_examples()

    save_evidence(evidence, tmp_path / "out")
    loaded = load_evidence(tmp_path / "out")

    assert sorted(loaded, key=lambda item: item.account.source) == sorted(evidence, key=lambda item: item.account.source)


def test_save_load_round_trip_of_cases(tmp_path: Path):
    evidence = load_evidence(CASES)

    save_evidence(evidence, tmp_path)
    loaded = load_evidence(tmp_path)

    assert sorted(loaded, key=lambda item: item.account_id) == sorted(evidence, key=lambda item: item.account_id)


def test_save_writes_aws_cli_shapes(tmp_path: Path):
    save_evidence(saved_examples()[:1], tmp_path)
    folder = tmp_path / GOOD_ID

    summary = json.loads((folder / "account_summary.json").read_text())
    devices = json.loads((folder / "virtual_mfa_devices.json").read_text())
    collection = json.loads((folder / "collection.json").read_text())

    assert summary == {"SummaryMap": {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0}}
    assert devices["IsTruncated"] is False
    assert devices["VirtualMFADevices"][0]["User"] == {"Arn": f"arn:aws:iam::{GOOD_ID}:root"}
    assert devices["VirtualMFADevices"][0]["EnableDate"] == "2026-05-31T22:30:00+00:00"
    assert "User" not in devices["VirtualMFADevices"][1]
    assert collection["report_generated_time"] == "2026-05-31T22:30:00+00:00"
    assert collection["account_id"] == GOOD_ID
    assert (folder / "credential_report.csv").read_bytes() == report_text(GOOD_ID, "\r\n").encode()


def test_save_names_folders(tmp_path: Path):
    save_evidence(saved_examples(), tmp_path)

    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([GOOD_ID, BAD_ID, OTHER_ID, "profile-broken-creds"])


def test_save_failed_account_has_no_report(tmp_path: Path):
    save_evidence(saved_examples()[2:3], tmp_path)

    assert sorted(path.name for path in (tmp_path / OTHER_ID).iterdir()) == ["collection.json"]


def test_save_removes_stale_files(tmp_path: Path):
    complete = saved_examples()[0]
    save_evidence([complete], tmp_path)
    failed = Evidence(account=complete.account, error="AccessDenied on iam:GetCredentialReport")

    save_evidence([failed], tmp_path)
    loaded = load_evidence(tmp_path)

    assert sorted(path.name for path in (tmp_path / GOOD_ID).iterdir()) == ["collection.json"]
    assert loaded == [failed]


def test_save_separates_same_slug(tmp_path: Path):
    evidence = [
        Evidence(account=Account(None, "profile a/b"), error="first"),
        Evidence(account=Account(None, "profile a:b"), error="second"),
    ]

    save_evidence(evidence, tmp_path)

    assert sorted(path.name for path in tmp_path.iterdir()) == ["profile-a-b", "profile-a-b-2"]
    assert sorted(item.error for item in load_evidence(tmp_path)) == ["first", "second"]


def test_saved_failure_without_report_needs_error(tmp_path: Path):
    path = write_json(tmp_path / "acct" / "collection.json", {"account_id": GOOD_ID, "error": None})

    item = load_evidence(tmp_path)[0]

    assert item.account_id == GOOD_ID
    assert str(path.parent) in item.error
    assert "no credential report" in item.error


# --- evidence_to_dict -----------------------------------------------------------------------------


def test_evidence_dict_round_trip():
    for evidence in [*saved_examples(), *load_evidence(CASES)]:
        data = json.loads(json.dumps(evidence_to_dict(evidence)))

        assert evidence_from_dict(data) == evidence


def test_evidence_dict_keeps_report_text():
    evidence = saved_examples()[0]

    data = evidence_to_dict(evidence)

    assert data["credential_report"] == report_text(GOOD_ID, "\r\n")
    assert data["account_summary"] == {"SummaryMap": {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0}}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param({"source": None}, "source is missing", id="no-source"),
        pytest.param({"credential_report": "user,arn\n"}, "does not parse", id="bad-report"),
        pytest.param({"account_summary": {"SummaryMap": {"Users": "2"}}}, "SummaryMap.Users", id="bad-summary"),
        pytest.param({"virtual_mfa_devices": {"VirtualMFADevices": None}}, "VirtualMFADevices", id="bad-devices"),
    ],
)
def test_evidence_dict_rejects_bad_data(change: dict, problem: str):
    data = {**evidence_to_dict(saved_examples()[0]), **change}

    with pytest.raises(EvidenceFormatError, match=problem):
        evidence_from_dict(data)


def test_format_utc_rejects_naive():
    with pytest.raises(EvidenceFormatError, match="no time zone"):
        format_utc(datetime(2026, 1, 1))


# --- Inputs that must not read as absent evidence ---------------------------------------------


def device_file(user: dict) -> str:
    device = {"SerialNumber": f"arn:aws:iam::{GOOD_ID}:mfa/phone", **user}
    return json.dumps({"VirtualMFADevices": [device], "IsTruncated": False})


@pytest.mark.parametrize(
    ("user", "problem"),
    [
        ({"User": {"Arn": f"arn:aws:iam::{GOOD_ID}:root "}}, "expected an IAM ARN"),
        ({"User": {"Arn": f"arn:aws:iam::{GOOD_ID}:root\n"}}, "expected an IAM ARN"),
        ({"user": {"Arn": f"arn:aws:iam::{GOOD_ID}:root"}}, "unknown key(s) user"),
    ],
    ids=["trailing-space", "trailing-newline", "lowercase-user"],
)
def test_device_file_that_could_hide_root_rejected(tmp_path, user, problem):
    folder = tmp_path / "account"
    write(folder / "credential_report.csv", report_text(GOOD_ID))
    write(folder / "virtual_mfa_devices.json", device_file(user))

    [evidence] = load_evidence(tmp_path)

    assert evidence.error is not None
    assert problem in evidence.error


def test_upper_case_extension_loaded(tmp_path):
    write(tmp_path / "a" / "REPORT.CSV", report_text(GOOD_ID))
    write(tmp_path / "b" / "credential_report.csv", report_text(BAD_ID))

    loaded = load_evidence(tmp_path)

    assert sorted(item.account_id for item in loaded) == [GOOD_ID, BAD_ID]


def test_empty_error_in_collection_file_rejected(tmp_path):
    folder = tmp_path / "account"
    write(folder / "collection.json", json.dumps({"account_id": GOOD_ID, "source": "demo", "error": ""}))

    [evidence] = load_evidence(tmp_path)

    assert "error is an empty string" in evidence.error
