"""Account sources: default and profile targets, their sessions, and the offline credential check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import botocore.credentials
import pytest
from moto import mock_aws

from awscompliance.accounts import (
    AccountSourceError,
    client_config,
    default_target,
    has_credentials,
    profile_targets,
)
from awscompliance.readonly import WriteCallRejected

pytestmark = pytest.mark.usefixtures("aws_credentials")


def _write_profiles(config_file: Path) -> None:
    config_file.write_text(
        "[profile prod]\nregion = eu-west-2\n\n[profile audit]\n"
    )
    config_file.with_name("credentials").write_text(
        "[prod]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )


def test_default_target_account():
    account = default_target().account

    assert account.account_id is None
    assert account.source == "default credentials"
    assert account.name is None


def test_default_target_new_session_per_call():
    factory = default_target().session_factory

    assert factory() is not factory()


def test_default_target_region_fallback(monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    assert default_target().session_factory().region_name == "us-east-1"


def test_session_clients_use_client_config():
    client = default_target().session_factory().client("iam")

    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 9}
    assert client.meta.config.connect_timeout == 5
    assert client.meta.config.read_timeout == 20


def test_client_config_values():
    config = client_config()

    assert config.retries == {"mode": "standard", "max_attempts": 8}
    assert config.connect_timeout == 5
    assert config.read_timeout == 20


@mock_aws
def test_default_target_session_guarded():
    client = default_target().session_factory().client("iam")

    with pytest.raises(WriteCallRejected):
        client.create_user(UserName="intruder")

    assert boto3.client("iam").list_users()["Users"] == []


def test_profile_targets_accounts(aws_credentials):
    _write_profiles(aws_credentials)

    targets = profile_targets(["prod", "audit"])

    assert [target.account.source for target in targets] == ["profile prod", "profile audit"]
    assert [target.account.name for target in targets] == ["prod", "audit"]
    assert [target.account.account_id for target in targets] == [None, None]


def test_profile_targets_session_uses_profile(aws_credentials, monkeypatch):
    _write_profiles(aws_credentials)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    factory = profile_targets(["prod"])[0].session_factory

    session = factory()

    assert session.profile_name == "prod"
    assert session.region_name == "eu-west-2"
    assert factory() is not session


@mock_aws
def test_profile_targets_session_guarded(aws_credentials):
    _write_profiles(aws_credentials)
    client = profile_targets(["prod"])[0].session_factory().client("iam")

    with pytest.raises(WriteCallRejected):
        client.delete_user(UserName="alice")


def test_profile_targets_unknown_profile(aws_credentials):
    _write_profiles(aws_credentials)

    with pytest.raises(AccountSourceError) as raised:
        profile_targets(["prod", "staging"])

    assert "'staging'" in str(raised.value)
    assert "Available profiles: audit, prod." in str(raised.value)


def test_profile_targets_no_profiles():
    with pytest.raises(AccountSourceError) as raised:
        profile_targets(["prod"])

    assert "Available profiles: none." in str(raised.value)


def test_has_credentials_from_environment():
    assert has_credentials() is True


def test_has_credentials_none(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    assert has_credentials() is False


def test_has_credentials_profile(aws_credentials, monkeypatch):
    _write_profiles(aws_credentials)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    assert has_credentials("prod") is True
    assert has_credentials("audit") is False


def test_has_credentials_unknown_profile():
    assert has_credentials("missing") is False


class RecordingMetadataFetcher:
    """Stands in for botocore's instance metadata fetcher; records its settings, finds nothing."""

    created: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.created.append(kwargs)

    def retrieve_iam_role_credentials(self) -> dict[str, str]:
        return {}


def test_has_credentials_bounds_instance_metadata(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setattr(RecordingMetadataFetcher, "created", [])
    monkeypatch.setattr(botocore.credentials, "InstanceMetadataFetcher", RecordingMetadataFetcher)

    assert has_credentials() is False
    assert len(RecordingMetadataFetcher.created) == 1
    assert RecordingMetadataFetcher.created[0]["num_attempts"] == 1
    assert RecordingMetadataFetcher.created[0]["timeout"] == 1


def test_has_credentials_container_endpoint(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    # A closed local port, in case the endpoint were called after all.
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/credentials")

    def fail_if_called(self):
        raise AssertionError("has_credentials called the container credential endpoint")

    monkeypatch.setattr(botocore.credentials.ContainerProvider, "load", fail_if_called)

    assert has_credentials() is True
