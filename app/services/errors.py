"""Errors a command's caller caused, named so that every adapter can say what was wrong."""

from __future__ import annotations

from typing import Any


class FieldProblem(ValueError):
    """A field's value cannot be recorded; adapters answer naming `field` (HTTP: 422)."""

    def __init__(self, field: str, message: str, value: Any = None) -> None:
        self.field = field
        self.value = value
        super().__init__(message)


class Conflict(Exception):
    """The command contradicts what the ledger already holds (HTTP: 409)."""


class NotRegistered(LookupError):
    """The command names something not registered, e.g. a repository (HTTP: 404)."""
