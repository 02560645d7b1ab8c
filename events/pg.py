"""PostgreSQL type handling the ledger relies on, registered once on import.

psycopg has no loader for `xid8`, the type of `events.tx_id`, and would return
it as text. Selecting `tx_id::text` instead is a trap: the output column keeps
the name `tx_id`, so `ORDER BY tx_id` then sorts the *text* ('10001' < '9999')
and a reader's cursor goes backwards. Loading xid8 as int keeps every query
ordering by the real column. (Parameters still go in as text: `%s::text::xid8`,
since PostgreSQL has no cast from bigint to xid8.)
"""

from __future__ import annotations

import struct

import psycopg
from psycopg.adapt import Buffer, Loader
from psycopg.pq import Format

_unsigned_64 = struct.Struct("!Q").unpack


class Xid8Loader(Loader):
    """Load xid8 (text format) as a Python int."""

    def load(self, data: Buffer) -> int:
        """Parse the decimal text PostgreSQL sends."""
        return int(bytes(data))


class Xid8BinaryLoader(Loader):
    """Load xid8 (binary format: 8 bytes, big-endian, unsigned) as a Python int."""

    format = Format.BINARY

    def load(self, data: Buffer) -> int:
        """Unpack the 64-bit transaction id."""
        return int(_unsigned_64(data)[0])


psycopg.adapters.register_loader("xid8", Xid8Loader)
psycopg.adapters.register_loader("xid8", Xid8BinaryLoader)
