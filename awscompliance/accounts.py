"""Account sources: which accounts to audit and how to reach each one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import boto3

from awscompliance.evidence import Account


@dataclass(frozen=True)
class AccountTarget:
    """An account to collect live evidence from."""

    account: Account
    # Returns a boto3 session whose credentials act in this account, with the read-only guard
    # installed. Called on a collection thread, so each call returns a session of its own.
    session_factory: Callable[[], boto3.Session]
