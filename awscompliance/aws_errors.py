"""Reading botocore errors and advising what to grant, shared by every collector's messages."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

# Exceptions of a failed AWS call. ResponseParserError is not a BotoCoreError: botocore raises it
# for an error body it cannot parse, such as an HTML page from a proxy or an emulator.
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError)
# The failures among them that carry no AWS error code: transport, configuration, unreadable bodies.
TRANSPORT_ERRORS = (BotoCoreError, ResponseParserError)

# Error codes of a call that the identity's policies, or an SCP, deny.
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def error_code(error: ClientError) -> str:
    """Return the AWS error code of a ClientError, or "unknown"."""
    return str(error.response.get("Error", {}).get("Code", "unknown"))


def error_message(error: ClientError) -> str:
    """Return the AWS error message of a ClientError, without a final period."""
    return str(error.response.get("Error", {}).get("Message", "")).rstrip(".")


def permission_advice(error: ClientError, permission: str, identity: str) -> str:
    """Say what to do about a failed call that needed `permission`, for the named identity."""
    code = error_code(error)
    if code in ACCESS_DENIED_CODES and "explicit deny" in error_message(error):
        # An explicit deny, for example in an SCP, overrides every grant.
        return f"Remove the explicit deny of {permission} that applies to {identity}."
    if code in ACCESS_DENIED_CODES:
        return f"Grant {permission} to {identity}."
    return f"Re-run later, and if it persists, check that {identity} may call {permission}."
