"""The read side: every question about what happened, answered from projections and the ledger.

The only code that reads projection tables and the side tables written beside the
ledger (logs, SBOMs, attestations); the `events` table only through EventStore.
Shared by the HTTP API, the web pages and the CLI; knows nothing of any of them.
"""
