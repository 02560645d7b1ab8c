"""The ledger: an append-only, tamper-evident event store on PostgreSQL.

This package knows nothing of HTTP, the CLI or Docker; the application (app/)
builds on it, never the reverse.
"""

from events import pg as _pg  # noqa: F401  (registers the xid8 loader; see events/pg.py)
