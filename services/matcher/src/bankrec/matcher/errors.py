"""What the matcher refuses, each with a stable code.

The HTTP API maps these to error responses in one place (``api.py``); undecodable messages
go to the dead-letter topic in one place (``consumers.py``).
"""

from __future__ import annotations

from typing import ClassVar


class MatcherError(Exception):
    """Base of every refusal; ``code`` is stable, ``message`` says what to do."""

    code: ClassVar[str] = "matcher_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DecisionNotFoundError(MatcherError):
    """No decision is known for the line (not seen yet, or older than the kept window)."""

    code = "decision_not_found"


class IndexNotReadyError(MatcherError):
    """The open-items index is still reading the topic after a start; try again shortly."""

    code = "index_not_ready"


class ConcurrentDecisionError(MatcherError):
    """Another instance decided the line meanwhile; its decision stands."""

    code = "concurrent_decision"


class InvalidMatchingSettingsError(MatcherError):
    """Matching settings that cannot work (a threshold out of range, a negative tolerance)."""

    code = "invalid_matching_settings"
