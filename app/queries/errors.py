"""Errors a question's asker caused, named so that every adapter can say what was wrong."""

from __future__ import annotations


class NotRecorded(LookupError):
    """What was asked for is not in the ledger (or was not yet, as of the point asked)."""


class InvalidParameter(ValueError):
    """A parameter of a question that names nothing known; `parameter` says which."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(message)
