"""Read and write evidence as files, so that accounts can be audited without AWS access.

Each account's evidence sits in a folder of its own, in the shapes the AWS CLI prints:

    credential_report.csv     `aws iam get-credential-report`, decoded CSV or the base64 text
                              that `--output text` prints
    account_summary.json      `aws iam get-account-summary` (optional)
    virtual_mfa_devices.json  `aws iam list-virtual-mfa-devices` (optional)
    collection.json           written by `save_evidence`: name, source, GeneratedTime, errors (optional)

A problem with an account's files becomes that account's `Evidence.error`, so one broken file
never hides the other accounts. Only a PATH that does not exist or contains no evidence raises
`OfflineSourceError`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from awscompliance.credential_report import CredentialReport, CredentialReportError, parse_report
from awscompliance.detection import DetectionEvidence, detection_from_dict, detection_to_dict
from awscompliance.evidence import Account, Evidence, VirtualMfaDevice
from awscompliance.organization import OrganizationContext, context_from_dict, context_to_dict

logger = logging.getLogger(__name__)

REPORT_FILE = "credential_report.csv"
SUMMARY_FILE = "account_summary.json"
DEVICES_FILE = "virtual_mfa_devices.json"
COLLECTION_FILE = "collection.json"
# Written by --save-evidence from live runs: the organization context and detection evidence.
ORGANIZATION_FILE = "organization.json"
DETECTION_FILE = "detection.json"
# Files that describe the account of the report beside them.
SIDECAR_FILES = (SUMMARY_FILE, DEVICES_FILE, COLLECTION_FILE, ORGANIZATION_FILE, DETECTION_FILE)

_REPORT_HELP = (
    "Export the report again with `aws iam get-credential-report --query Content --output text"
    " > credential_report.csv` and keep the file unchanged"
)
_SUMMARY_HELP = "Export it again with `aws iam get-account-summary > account_summary.json`"
_DEVICES_HELP = (
    "Export the whole list again with `aws iam list-virtual-mfa-devices --assignment-status Assigned"
    " > virtual_mfa_devices.json`, without --max-items or --no-paginate"
)
_COLLECTION_HELP = "Collect and save the evidence again, or delete collection.json"
_SAVED_HELP = "Collect and save the evidence again with --save-evidence, or delete the file"

# Account id inside an IAM ARN of any partition: arn:<partition>:iam::<12 digits>:<resource>.
_IAM_ARN = re.compile(r"arn:[a-z][a-z0-9-]*:iam::(?P<account>\d{12}):\S+")
# The keys of one device in `aws iam list-virtual-mfa-devices` output. Any other key is rejected,
# because a misspelled "User" would make root's device read as unassigned.
_DEVICE_KEYS = frozenset({"SerialNumber", "User", "EnableDate", "Base32StringSeed", "QRCodePNG", "Tags"})
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")

_T = TypeVar("_T")


class OfflineSourceError(ValueError):
    """The offline PATH does not exist or contains no evidence. The message names the path."""


class EvidenceFormatError(ValueError):
    """Saved evidence or an AWS CLI JSON file does not have the expected shape."""


# --- JSON shapes shared by the files and by evidence_to_dict ---------------------------------


def summary_to_json(summary: dict[str, int]) -> dict[str, Any]:
    """Return the account summary in the shape `aws iam get-account-summary` prints."""
    return {"SummaryMap": dict(summary)}


def summary_from_json(data: Any) -> dict[str, int]:
    """Read the `SummaryMap` of `aws iam get-account-summary` output.

    Raises EvidenceFormatError unless every counter is a non-negative integer.
    """
    summary_map = _required_member(data, "SummaryMap", dict)
    for key, value in summary_map.items():
        # JSON true/false load as bool, a subclass of int, but they are not counters.
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise EvidenceFormatError(
                f"SummaryMap.{key} is {_json_repr(value)}, expected a non-negative integer"
            )
    return dict(summary_map)


def devices_to_json(devices: Sequence[VirtualMfaDevice]) -> dict[str, Any]:
    """Return the devices in the shape `aws iam list-virtual-mfa-devices` prints, as one complete page."""
    items = []
    for device in devices:
        item: dict[str, Any] = {"SerialNumber": device.serial_number}
        if device.user_arn is not None:
            item["User"] = {"Arn": device.user_arn}
        if device.enable_date is not None:
            item["EnableDate"] = format_utc(device.enable_date)
        items.append(item)
    return {"VirtualMFADevices": items, "IsTruncated": False}


def devices_from_json(data: Any) -> list[VirtualMfaDevice]:
    """Read `aws iam list-virtual-mfa-devices` output into devices.

    A device without `User` is unassigned. Raises EvidenceFormatError on a wrong shape, and on
    an incomplete list, because the missing part could hold root's device.
    """
    items = _required_member(data, "VirtualMFADevices", list)

    truncated = data.get("IsTruncated", False)
    if not isinstance(truncated, bool):
        raise EvidenceFormatError(f"IsTruncated is {_json_repr(truncated)}, expected true or false")
    # The API marks a partial page with IsTruncated and Marker; the AWS CLI prints NextToken
    # instead when --max-items cut the list short.
    token = next((key for key in ("Marker", "NextToken") if data.get(key)), None)
    if truncated or token:
        reason = "IsTruncated is true" if truncated else f"{token} is present"
        raise EvidenceFormatError(
            f"the device list is incomplete ({reason}), so a root device may be missing from it"
        )

    return [_device_from_json(item, f"VirtualMFADevices[{index}]") for index, item in enumerate(items)]


def _device_from_json(item: Any, where: str) -> VirtualMfaDevice:
    if not isinstance(item, dict):
        raise EvidenceFormatError(f"{where} is {_json_type(item)}, expected an object")
    unknown = sorted(set(item) - _DEVICE_KEYS)
    if unknown:
        raise EvidenceFormatError(
            f"{where} has unknown key(s) {', '.join(unknown)}; expected only {', '.join(sorted(_DEVICE_KEYS))}"
        )

    serial_number = item.get("SerialNumber")
    if not isinstance(serial_number, str) or not serial_number.strip():
        raise EvidenceFormatError(f"{where}.SerialNumber is {_json_repr(serial_number)}, expected a device ARN")

    user_arn = None
    user = item.get("User")
    if user is not None:
        arn = user.get("Arn") if isinstance(user, dict) else None
        if not isinstance(arn, str) or not _IAM_ARN.fullmatch(arn):
            raise EvidenceFormatError(f"{where}.User.Arn is {_json_repr(arn)}, expected an IAM ARN")
        user_arn = arn

    enable_date = item.get("EnableDate")
    if enable_date is not None:
        enable_date = parse_utc(enable_date, f"{where}.EnableDate")

    return VirtualMfaDevice(serial_number=serial_number, user_arn=user_arn, enable_date=enable_date)


def format_utc(value: datetime) -> str:
    """Return an aware datetime as ISO 8601 in UTC, the way the AWS CLI prints dates."""
    if value.tzinfo is None:
        # Converting a naive datetime would assume the host's time zone.
        raise EvidenceFormatError(f"the datetime {value.isoformat()} has no time zone. Use an aware UTC datetime")
    return value.astimezone(timezone.utc).isoformat()


def parse_utc(value: Any, field: str) -> datetime:
    """Parse an ISO 8601 timestamp with a UTC offset (`Z`, `+00:00` or any other) into aware UTC."""
    if not isinstance(value, str):
        raise EvidenceFormatError(f"{field} is {_json_repr(value)}, expected an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise EvidenceFormatError(f"{field} is {value!r}, expected an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        # Without an offset the instant would depend on the reader's time zone.
        raise EvidenceFormatError(f"{field} is {value!r}, expected a timestamp with a UTC offset such as +00:00 or Z")
    return parsed.astimezone(timezone.utc)


def _required_member(data: Any, key: str, kind: type) -> Any:
    if not isinstance(data, dict):
        raise EvidenceFormatError(f"the file contains {_json_type(data)}, expected an object with the key {key}")
    if key not in data:
        raise EvidenceFormatError(f"the key {key} is missing")
    value = data[key]
    if not isinstance(value, kind):
        raise EvidenceFormatError(f"{key} is {_json_type(value)}, expected {_json_type(kind())}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _json_repr(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else _json_type(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- One Evidence as a JSON-safe dict ---------------------------------------------------------


@dataclass(frozen=True)
class _CollectionRecord:
    """The fields of collection.json, which the report and the AWS CLI files cannot record."""

    account_id: str | None
    name: str | None
    # The original source, such as "profile prod". None for hand-written files.
    source: str | None
    report_generated_time: datetime | None
    account_summary_error: str | None
    account_summary_time: datetime | None
    virtual_mfa_devices_error: str | None
    error: str | None
    # "management" or "member" when the account was discovered through AWS Organizations.
    organization_role: str | None = None
    ou_path: tuple[str, ...] = ()


def _collection_to_json(evidence: Evidence) -> dict[str, Any]:
    generated_time = evidence.report_generated_time
    return {
        "account_id": evidence.account_id,
        "name": evidence.account.name,
        "source": evidence.account.source,
        "report_generated_time": format_utc(generated_time) if generated_time is not None else None,
        "account_summary_error": evidence.account_summary_error,
        "account_summary_time": format_utc(evidence.account_summary_time) if evidence.account_summary_time else None,
        "virtual_mfa_devices_error": evidence.virtual_mfa_devices_error,
        "error": evidence.error,
        "organization_role": evidence.account.organization_role,
        "ou_path": list(evidence.account.ou_path),
    }


def _collection_from_json(data: Any) -> _CollectionRecord:
    if not isinstance(data, dict):
        raise EvidenceFormatError(f"the file contains {_json_type(data)}, expected an object")

    account_id = _optional_string(data, "account_id")
    if account_id is not None and not _ACCOUNT_ID.match(account_id):
        raise EvidenceFormatError(f"account_id is {account_id!r}, expected a 12-digit account id or null")

    generated_time = data.get("report_generated_time")
    summary_time = data.get("account_summary_time")
    return _CollectionRecord(
        account_id=account_id,
        name=_optional_string(data, "name"),
        source=_optional_string(data, "source"),
        report_generated_time=(
            parse_utc(generated_time, "report_generated_time") if generated_time is not None else None
        ),
        account_summary_error=_optional_string(data, "account_summary_error"),
        account_summary_time=parse_utc(summary_time, "account_summary_time") if summary_time is not None else None,
        virtual_mfa_devices_error=_optional_string(data, "virtual_mfa_devices_error"),
        error=_optional_string(data, "error"),
        organization_role=_optional_string(data, "organization_role"),
        ou_path=_ou_path(data),
    )


def _ou_path(data: dict[str, Any]) -> tuple[str, ...]:
    value = data.get("ou_path", [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise EvidenceFormatError(f"ou_path is {_json_repr(value)}, expected a list of OU ids")
    return tuple(value)


def _optional_string(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise EvidenceFormatError(f"{key} is {_json_repr(value)}, expected a string or null")
    if value is not None and not value.strip():
        # An empty error message would give verdicts with no reason.
        raise EvidenceFormatError(f"{key} is an empty string, expected text or null")
    return value


def evidence_to_dict(evidence: Evidence) -> dict[str, Any]:
    """Return one Evidence as JSON-safe data; `evidence_from_dict` turns it back.

    The report travels as its CSV text and is parsed again on the way back, so the receiver
    gets exactly the rows a fresh parse gives.
    """
    report = evidence.credential_report
    summary = evidence.account_summary
    devices = evidence.virtual_mfa_devices
    return {
        **_collection_to_json(evidence),
        "credential_report": report.text if report is not None else None,
        "account_summary": summary_to_json(summary) if summary is not None else None,
        "virtual_mfa_devices": devices_to_json(devices) if devices is not None else None,
        "organization": context_to_dict(evidence.organization) if evidence.organization is not None else None,
        "detection": detection_to_dict(evidence.detection) if evidence.detection is not None else None,
    }


def evidence_from_dict(data: dict[str, Any]) -> Evidence:
    """Rebuild an Evidence from `evidence_to_dict` output.

    Raises EvidenceFormatError when the data is not in that shape or its report does not parse.
    """
    record = _collection_from_json(data)
    if record.source is None:
        raise EvidenceFormatError("source is missing, expected a string")

    report_text = _optional_string(data, "credential_report")
    try:
        report = parse_report(report_text) if report_text is not None else None
    except CredentialReportError as error:
        raise EvidenceFormatError(f"credential_report does not parse: {error}") from None

    summary = data.get("account_summary")
    devices = data.get("virtual_mfa_devices")
    organization = data.get("organization")
    detection = data.get("detection")
    evidence = _build_evidence(
        Account(
            account_id=record.account_id,
            source=record.source,
            name=record.name,
            organization_role=record.organization_role,
            ou_path=record.ou_path,
        ),
        record,
        report,
        summary_from_json(summary) if summary is not None else None,
        devices_from_json(devices) if devices is not None else None,
    )
    evidence.organization = _organization_from_json(organization) if organization is not None else None
    evidence.detection = _detection_from_json(detection) if detection is not None else None
    return evidence


def _build_evidence(
    account: Account,
    record: _CollectionRecord | None,
    report: CredentialReport | None,
    summary: dict[str, int] | None,
    devices: list[VirtualMfaDevice] | None,
) -> Evidence:
    return Evidence(
        account=account,
        credential_report=report,
        report_generated_time=record.report_generated_time if record else None,
        account_summary=summary,
        account_summary_error=record.account_summary_error if record else None,
        account_summary_time=record.account_summary_time if record else None,
        virtual_mfa_devices=devices,
        virtual_mfa_devices_error=record.virtual_mfa_devices_error if record else None,
        error=record.error if record else None,
    )


# --- Saving -------------------------------------------------------------------------------------


def save_evidence(evidence: Sequence[Evidence], directory: str | Path) -> None:
    """Write each account's evidence into a folder of DIRECTORY that `load_evidence` reads back.

    A folder is named by the account id, or by the source when the id is unknown. A file left in
    that folder by an earlier save is removed when this evidence has no such piece.
    NOTE: folders of accounts that are not in `evidence` are left alone, and `load_evidence`
    still reads them, so save into an empty directory to keep one run's evidence apart.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)

    used_names: set[str] = set()
    for item in evidence:
        folder = root / _folder_name(item, used_names)
        folder.mkdir(exist_ok=True)
        _write_account(item, folder)

    logger.info("Saved evidence of %d account(s) to %s", len(evidence), root)


def _folder_name(evidence: Evidence, used_names: set[str]) -> str:
    base = _UNSAFE_NAME_CHARACTERS.sub("-", evidence.account_id or evidence.account.source).strip("-.")
    base = base[:100] or "unknown-account"
    name = base
    suffix = 2
    while name in used_names:
        name = f"{base}-{suffix}"
        suffix += 1
    used_names.add(name)
    return name


def _write_account(evidence: Evidence, folder: Path) -> None:
    texts = {COLLECTION_FILE: _json_text(_collection_to_json(evidence))}
    if evidence.credential_report is not None:
        texts[REPORT_FILE] = evidence.credential_report.text
    if evidence.account_summary is not None:
        texts[SUMMARY_FILE] = _json_text(summary_to_json(evidence.account_summary))
    if evidence.virtual_mfa_devices is not None:
        texts[DEVICES_FILE] = _json_text(devices_to_json(evidence.virtual_mfa_devices))
    if evidence.organization is not None:
        texts[ORGANIZATION_FILE] = _json_text(context_to_dict(evidence.organization))
    if evidence.detection is not None:
        texts[DETECTION_FILE] = _json_text(detection_to_dict(evidence.detection))

    for name in (REPORT_FILE, *SIDECAR_FILES):
        path = folder / name
        if name in texts:
            # newline="" writes the report's line ends (LF or CRLF) unchanged.
            with path.open("w", encoding="utf-8", newline="") as stream:
                stream.write(texts[name])
        else:
            path.unlink(missing_ok=True)


def _json_text(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --- Loading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Folder:
    """A folder that contains a report or a sidecar file, with what `load_evidence` reads there."""

    path: Path
    # Reports to load: every *.csv in the folder, or the one file PATH named.
    reports: list[Path]
    # Every *.csv in the folder, which decides whether the sidecars can belong to one report.
    all_reports: list[Path]
    sidecars: list[Path]
    # Account name for reports without collection.json: the folder's name, unless it is PATH itself.
    default_name: str | None


def load_evidence(path: str | Path) -> list[Evidence]:
    """Load one Evidence per account from a report file or a folder searched recursively for *.csv.

    Accounts come in the sorted order of their folders and files. Raises OfflineSourceError when
    PATH does not exist or contains no evidence. Every other problem becomes the account's error.
    """
    top = Path(path)
    if not top.exists():
        raise OfflineSourceError(f"{top}: no such file or folder. Pass a credential report or a folder of reports.")

    folders = _find_folders(top)
    if not folders:
        raise OfflineSourceError(
            f"no credential reports (*.csv) found under {top}. Save each account's report there as"
            f" {REPORT_FILE}, in a folder of its own."
        )

    loaded = []
    for folder in folders:
        if folder.reports:
            loaded.extend(_load_account(folder, report_path) for report_path in folder.reports)
        else:
            loaded.append(_load_account(folder, None))
    evidence = _merge_duplicate_accounts(loaded)

    failed = [item for item in evidence if item.error]
    for item in failed:
        logger.warning("Offline evidence of %s is not usable: %s", item.account.label, item.error)
    logger.info("Loaded evidence of %d account(s) from %s, %d with errors", len(evidence), top, len(failed))
    return evidence


def _find_folders(top: Path) -> list[_Folder]:
    if top.is_file():
        folder = top.parent
        siblings = sorted({*_reports_in(folder), top})
        return [_Folder(folder, [top], siblings, _sidecars_in(folder), folder.name or None)]

    reports_by_folder: dict[Path, list[Path]] = {}
    for file in top.rglob("*"):
        if file.is_file() and (_is_report_name(file) or file.name in SIDECAR_FILES):
            reports = reports_by_folder.setdefault(file.parent, [])
            if _is_report_name(file):
                reports.append(file)

    folders = []
    for folder, reports in sorted(reports_by_folder.items()):
        reports.sort()
        default_name = None if folder == top else folder.name
        folders.append(_Folder(folder, reports, reports, _sidecars_in(folder), default_name))
    return folders


def _reports_in(folder: Path) -> list[Path]:
    return [file for file in folder.iterdir() if file.is_file() and _is_report_name(file)]


def _is_report_name(file: Path) -> bool:
    # Windows tools and some exports write the extension in capitals (REPORT.CSV).
    return file.suffix.lower() == ".csv"


def _sidecars_in(folder: Path) -> list[Path]:
    return [folder / name for name in SIDECAR_FILES if (folder / name).is_file()]


def _load_account(folder: _Folder, report_path: Path | None) -> tuple[Path, Evidence]:
    """Load one report, or a folder of sidecars without a report, with the sidecars beside it.

    Returns the main file's path, for the duplicate check, and the Evidence.
    """
    problems: list[str] = []
    report = _read_report(report_path, problems) if report_path is not None else None

    record = summary = devices = organization = detection = None
    if folder.sidecars and len(folder.all_reports) > 1:
        # A summary applied to the wrong account could turn its FAIL into a PASS.
        problems.append(
            f"{report_path}: the folder {folder.path} contains {len(folder.all_reports)} reports"
            f" ({', '.join(file.name for file in folder.all_reports)}) and sidecar files"
            f" ({', '.join(file.name for file in folder.sidecars)}), which cannot be matched to one report."
            " Put each report in a folder of its own with its sidecar files."
        )
    else:
        record = _read_json(folder.path / COLLECTION_FILE, _collection_from_json, _COLLECTION_HELP, problems)
        summary = _read_json(folder.path / SUMMARY_FILE, summary_from_json, _SUMMARY_HELP, problems)
        devices = _read_json(folder.path / DEVICES_FILE, devices_from_json, _DEVICES_HELP, problems)
        organization = _read_json(folder.path / ORGANIZATION_FILE, _organization_from_json, _SAVED_HELP, problems)
        detection = _read_json(folder.path / DETECTION_FILE, _detection_from_json, _SAVED_HELP, problems)

    if report_path is None and not (record is not None and record.error):
        problems.append(
            f"{folder.path} contains {', '.join(file.name for file in folder.sidecars)} but no credential"
            f" report (*.csv). Save the account's report there as {REPORT_FILE}."
        )

    account_id = None
    if report is not None:
        account_id = report.account_id
    elif record is not None:
        account_id = record.account_id
    if account_id is not None:
        problems.extend(_foreign_account_problems(folder.path, account_id, report_path, record, devices))

    main_path = report_path if report_path is not None else folder.path
    account = Account(
        account_id=account_id,
        # collection.json stores the source of the original collection ("profile prod"), so a
        # re-run offline shows the same labels. Error messages name the files themselves.
        source=record.source if record is not None and record.source else str(main_path),
        name=record.name if record is not None else folder.default_name,
        organization_role=record.organization_role if record is not None else None,
        ou_path=record.ou_path if record is not None else (),
    )

    if problems:
        return main_path, Evidence(account=account, error=" ".join(problems))
    evidence = _build_evidence(account, record, report, summary, devices)
    evidence.organization = organization
    evidence.detection = detection
    return main_path, evidence


def _organization_from_json(data: Any) -> OrganizationContext:
    try:
        return context_from_dict(data)
    except ValueError as error:
        raise EvidenceFormatError(str(error)) from None


def _detection_from_json(data: Any) -> DetectionEvidence:
    try:
        return detection_from_dict(data)
    except ValueError as error:
        raise EvidenceFormatError(str(error)) from None


def _read_bytes(path: Path, problems: list[str]) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError as error:
        problems.append(f"{path}: the file cannot be read ({error.strerror or error}). Check its permissions.")
        return None


def _read_report(path: Path, problems: list[str]) -> CredentialReport | None:
    content = _read_bytes(path, problems)
    if content is None:
        return None
    try:
        return parse_report(content)
    except CredentialReportError as error:
        problems.append(f"{path}: {error}. {_REPORT_HELP}.")
        return None


def _read_json(path: Path, convert: Callable[[Any], _T], help_text: str, problems: list[str]) -> _T | None:
    """Read an optional JSON file with `convert`, or append the problem to PROBLEMS and return None."""
    if not path.is_file():
        return None

    content = _read_bytes(path, problems)
    if content is None:
        return None

    try:
        # utf-8-sig drops the byte-order mark that some editors and PowerShell write.
        data = json.loads(content.decode("utf-8-sig")) if content.strip() else None
    except UnicodeDecodeError as error:
        problems.append(f"{path}: the file is not UTF-8 text (invalid byte at offset {error.start}). {help_text}.")
        return None
    except json.JSONDecodeError as error:
        problems.append(f"{path}: invalid JSON ({error.msg} at line {error.lineno} column {error.colno}). {help_text}.")
        return None
    except RecursionError:
        problems.append(f"{path}: invalid JSON (nested too deeply to read). {help_text}.")
        return None

    if data is None:
        problems.append(f"{path}: the file is empty. {help_text}.")
        return None
    try:
        return convert(data)
    except EvidenceFormatError as error:
        problems.append(f"{path}: {error}. {help_text}.")
        return None


def _foreign_account_problems(
    folder: Path,
    account_id: str,
    report_path: Path | None,
    record: _CollectionRecord | None,
    devices: list[VirtualMfaDevice] | None,
) -> list[str]:
    """Return a problem for each sidecar that describes another account than ACCOUNT_ID."""
    problems = []
    described = f"the report {report_path}" if report_path is not None else "this folder"

    if record is not None and record.account_id is not None and record.account_id != account_id:
        problems.append(
            f"{folder / COLLECTION_FILE}: account_id is {record.account_id} but {described} is for account"
            f" {account_id}. Keep each account's files in a folder of their own."
        )

    foreign_arns = []
    for device in devices or []:
        for arn in (device.serial_number, device.user_arn):
            match = _IAM_ARN.fullmatch(arn) if arn is not None else None
            if match is not None and match["account"] != account_id:
                foreign_arns.append(arn)
    if foreign_arns:
        problems.append(
            f"{folder / DEVICES_FILE}: the device list names another account ({', '.join(foreign_arns[:3])})"
            f" but {described} is for account {account_id}. Keep each account's files in a folder of their own."
        )
    return problems


def _merge_duplicate_accounts(loaded: list[tuple[Path, Evidence]]) -> list[Evidence]:
    """Give an account that several files describe one Evidence whose error lists the files.

    Every account must get exactly one result per control, and picking one file silently could
    audit stale evidence.
    """
    positions: dict[str, list[int]] = {}
    for position, (_, item) in enumerate(loaded):
        if item.account_id is not None:
            positions.setdefault(item.account_id, []).append(position)

    evidence = []
    for position, (_, item) in enumerate(loaded):
        same_account = positions.get(item.account_id, []) if item.account_id is not None else []
        if len(same_account) <= 1:
            evidence.append(item)
        elif position == same_account[0]:
            evidence.append(_duplicate_account_error([loaded[index] for index in same_account]))
    return evidence


def _duplicate_account_error(duplicates: list[tuple[Path, Evidence]]) -> Evidence:
    first = duplicates[0][1]
    paths = ", ".join(str(path) for path, _ in duplicates)
    message = (
        f"account {first.account_id} has evidence in {len(duplicates)} places: {paths}."
        " Keep one report per account and remove the others."
    )
    earlier_errors = [item.error for _, item in duplicates if item.error]
    if earlier_errors:
        message += " " + " ".join(earlier_errors)

    names = [item.account.name for _, item in duplicates if item.account.name]
    account = Account(account_id=first.account_id, source=first.account.source, name=names[0] if names else None)
    return Evidence(account=account, error=message)
