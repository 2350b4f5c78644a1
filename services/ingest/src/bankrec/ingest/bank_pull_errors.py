# ruff: noqa: N818 - the names are the problems users see (BankApiUnauthorized, ...)
"""What can go wrong with bank pulls, each with a stable code.

Two families: refusals of a request to the bank-pulls API (an unknown pull, an invalid
configuration, a run already under way), answered as HTTP errors by ``api_bank_pulls``; and
failures of the bank's API during a run (``BankApiFailure``), which are not raised to the
caller but recorded as the run's outcome on the pull configuration. Both are
``IngestError``s, so they carry a ``code`` and a message that says what to do. Messages never
contain a secret, and name URLs without their query string (a pre-signed download URL
carries its signature there).
"""

from __future__ import annotations

from typing import ClassVar

from bankrec.ingest.errors import IngestError


class BankPullError(IngestError):
    """Base of everything about bank pulls."""

    code: ClassVar[str] = "bank_pull_error"


class BankPullNotFound(BankPullError):
    """No pull configuration by that name for the tenant."""

    code = "not_found"


class BankPullInvalid(BankPullError):
    """A pull configuration that cannot be used; ``field`` names the part that is wrong."""

    code = "invalid_bank_pull"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field

    def details(self) -> dict[str, str | int]:
        return {"field": self.field}


class BankPullRunning(BankPullError):
    """The pull is running already (here or on another instance); one run at a time."""

    code = "pull_running"


class BankApiFailure(BankPullError):
    """Base of what the bank's API did wrong during a run; recorded on the pull's outcome."""

    code = "bank_api_error"


class BankApiUnauthorized(BankApiFailure):
    """The bank answered 401 or 403: the token or password is wrong, expired or revoked."""

    code = "bank_unauthorized"


class BankApiUnavailable(BankApiFailure):
    """5xx or 429 on every attempt, or a wait (``Retry-After``) longer than a run may wait."""

    code = "bank_unavailable"


class BankApiUnreachable(BankApiFailure):
    """No HTTP answer at all: DNS, connection, TLS verification, timeout, redirects."""

    code = "bank_unreachable"


class BankApiRejected(BankApiFailure):
    """Another 4xx: an unknown account, a request the bank does not accept."""

    code = "bank_request_rejected"


class BankApiResponseInvalid(BankApiFailure):
    """A listing that does not follow the protocol (docs/bank-pull-protocol.md)."""

    code = "bank_response_invalid"


class BankStatementTooLarge(BankApiFailure):
    """A statement file larger than ``upload_bytes_max``: not downloaded (or not finished)."""

    code = "too_large"
