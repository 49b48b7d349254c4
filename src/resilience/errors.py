"""The two ways a D1 call fails, shared by the data layer and the resilience layer below
it: D1 refused the data (a constraint; nothing was written), or D1 could not answer
(down, timed out, circuit open; nothing was written)."""

from __future__ import annotations


class DataError(Exception):
    """Base of data-layer failures."""


class DataUnavailable(DataError):
    """D1 could not answer (down, timed out, circuit open). Nothing was written."""


class ConstraintViolation(DataError):
    """D1 refused the data (CHECK, UNIQUE, FOREIGN KEY, NOT NULL). Nothing was written."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind
