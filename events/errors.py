"""Every error the ledger raises on purpose, each naming what was wrong and where."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of the ledger's own errors."""


class WrongExpectedVersion(LedgerError):
    """An append expected the stream at one version and found it at another."""

    def __init__(self, stream: str, expected: int | str, actual: int | None) -> None:
        self.stream = stream
        self.expected = expected
        self.actual = actual
        shown = "no stream" if actual is None else f"version {actual}"
        super().__init__(
            f"stream {stream!r}: expected version {expected}, but the stream is at {shown}"
        )


class PartialRetry(LedgerError):
    """An append mixed event ids already in the ledger with new ones."""

    def __init__(self, stream: str, known: list[str], new: list[str]) -> None:
        self.stream = stream
        self.known = known
        self.new = new
        super().__init__(
            f"stream {stream!r}: {len(known)} of {len(known) + len(new)} event ids are already "
            f"recorded (first: {known[0]}); a retry must resend exactly the original batch"
        )


class InvalidStreamName(LedgerError):
    """A stream name is not of the form category-id."""

    def __init__(self, stream: str, reason: str) -> None:
        self.stream = stream
        super().__init__(f"invalid stream name {stream!r}: {reason}")


class UnknownEventType(LedgerError):
    """An event type is not in the catalogue."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name
        super().__init__(f"unknown event type {type_name!r}: it is not in the event catalogue")


class InvalidEvent(LedgerError):
    """An event's payload does not match its type's schema, or does not belong in its stream."""

    def __init__(self, type_name: str, problems: list[str]) -> None:
        self.type_name = type_name
        self.problems = problems
        super().__init__(f"invalid {type_name} event: " + "; ".join(problems))


class EventTooLarge(LedgerError):
    """An event's canonical form is larger than the configured limit."""

    def __init__(self, type_name: str, size: int, limit: int) -> None:
        self.type_name = type_name
        self.size = size
        self.limit = limit
        super().__init__(
            f"{type_name} event is {size} bytes in canonical form; the limit is {limit} bytes"
        )


class MigrationError(LedgerError):
    """The schema cannot be brought up to date safely."""


# --- tamper evidence: sealing, verification, proofs (events/sealer.py, verify.py, proofs.py) ---


class InvalidNote(LedgerError):
    """A signed checkpoint note is malformed, or its signature does not verify."""


class KeyFileError(LedgerError):
    """A ledger signing or public key file is missing, unreadable or not a usable key."""


class UnknownEvent(LedgerError):
    """No event has the given id."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"no event has id {event_id}")


class NotSealed(LedgerError):
    """An event exists but no checkpoint covers it yet."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(
            f"event {event_id} is not sealed yet: run `shiplog ledger checkpoint` and try again"
        )


class NoCheckpoint(LedgerError):
    """A proof needs checkpoints that the ledger does not have."""


class SealError(LedgerError):
    """The sealed tree in the database is not in a state the sealer can extend."""


class InvalidProof(LedgerError):
    """A proof document is malformed (not merely wrong: that is a failed check)."""


class LedgerMismatch(LedgerError):
    """The stored ledger does not match itself, so no honest proof can be made from it."""
