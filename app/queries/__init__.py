"""Read-side queries over the projections, shared by the HTTP API, the CLI and the web pages."""


class NotRecorded(LookupError):
    """What was asked for is not in the ledger (or was not yet, as of the point asked)."""
