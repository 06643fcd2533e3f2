"""How evidence from several sources is combined before the tests run."""

from awscompliance.evidence import Account, Evidence
from awscompliance.organization import OrganizationContext
from awscompliance.sources import AccountFilter, _deduplicate, link_management_detection, _requested_but_missing


def evidence(account_id, source, error=None, role=None):
    context = OrganizationContext(role=role) if role else None
    return Evidence(account=Account(account_id, source), error=error, organization=context)


def test_same_account_from_two_profiles_kept_once():
    first = evidence("111122223333", "profile a")
    second = evidence("111122223333", "profile b")

    kept = _deduplicate([first, second])

    assert kept == [first]


def test_duplicate_prefers_evidence_without_error():
    failed = evidence("111122223333", "profile a", error="AccessDenied")
    good = evidence("111122223333", "profile b")

    assert _deduplicate([failed, good]) == [good]


def test_unknown_ids_never_merged():
    broken = [evidence(None, "a.csv", error="binary"), evidence(None, "b.csv", error="binary")]

    assert _deduplicate(broken) == broken


def test_requested_missing_account_gets_error():
    found = [evidence("111122223333", "organization")]
    wanted = AccountFilter(include=frozenset({"111122223333", "444455556666"}))

    [missing] = _requested_but_missing(wanted, found)

    assert missing.account_id == "444455556666"
    assert "requested with --accounts" in missing.error


def test_excluded_request_not_reported_missing():
    wanted = AccountFilter(include=frozenset({"444455556666"}), exclude=frozenset({"444455556666"}))

    assert _requested_but_missing(wanted, []) == []


def test_members_get_management_detection():
    management = evidence("111122223333", "organization", role="management")
    management.detection = object()
    member = evidence("444455556666", "organization", role="member")

    link_management_detection([management, member])

    assert member.organization.management_detection is management.detection
