"""The description of which compliance tests a run selected."""

from pathlib import Path

from awscompliance.selection import selection_filters

PROJECT = Path("/work/project")
TESTS = PROJECT / "tests_compliance"


def selection(keyword=None, markers=None, deselect=(), paths=("tests_compliance",)):
    return {"keyword": keyword, "markers": markers, "deselect": list(deselect), "paths": list(paths)}


def test_filters_none_for_whole_folder():
    assert selection_filters(selection(), TESTS, PROJECT) == []
    assert selection_filters(selection(paths=[str(TESTS)]), TESTS, Path("/tmp")) == []
    assert selection_filters(selection(paths=["."]), TESTS, PROJECT) == []


def test_filters_quote_options():
    chosen = selection(keyword="mfa and not hardware", markers="control", deselect=["tests_compliance/test_root_user.py::test_root_has_mfa"])

    assert selection_filters(chosen, TESTS, PROJECT) == [
        "-k 'mfa and not hardware'",
        "-m control",
        "--deselect tests_compliance/test_root_user.py::test_root_has_mfa",
    ]


def test_filters_name_narrower_paths():
    paths = ["tests_compliance/test_root_user.py", "tests_compliance/test_scp.py::test_x", "tests_compliance"]

    assert selection_filters(selection(paths=paths), TESTS, PROJECT) == paths[:2]


def test_filters_name_paths_outside_tests():
    assert selection_filters(selection(paths=["/tmp/other"]), TESTS, Path("/tmp/other")) == ["/tmp/other"]
