"""Shared fixtures for the offline unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

# pytester runs the compliance suite end to end in a subprocess.
pytest_plugins = ["pytester"]

# Variables that could point botocore at real credentials, profiles or credential endpoints.
_AWS_SOURCE_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
)


@pytest.fixture
def aws_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Set fake credentials and empty AWS config files, and return the config file's path.

    Tests add profiles by writing to the returned config file (or to `credentials` beside it).
    """
    config_file = tmp_path / "aws" / "config"
    config_file.parent.mkdir()
    config_file.write_text("")
    credentials_file = config_file.with_name("credentials")
    credentials_file.write_text("")

    for variable in _AWS_SOURCE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_file))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # The instance metadata service is a network endpoint, and no test may reach it.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return config_file
