"""Reading a compiled rate deck's bytes (megabytes) without stalling the process's other threads.

psycopg returns ``bytea`` in the text format by default: the server sends the value as hex and
the client decodes it, in C, holding the GIL, about twice the deck's size in characters. A
worker's deck loader runs beside request threads, and on a 1,000,000-row deck (16 MB) that
decode held every request for a few hundred milliseconds. In the binary format the value
arrives as it is stored and is copied once. SQLite hands a ``BLOB`` over as bytes already.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from dialgate.adapters.db import tables

_PG_READ = "SELECT data FROM rate_deck_data WHERE version_id = %s"


def deck_bytes(connection: Connection, version_id: int) -> bytes | None:
    """The compiled bytes of a deck version (None: not stored), in the connection's transaction."""
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        raw: Any = connection.connection.driver_connection  # psycopg.Connection
        with raw.cursor(binary=True) as cursor:
            cursor.execute(_PG_READ, (version_id,))
            row = cursor.fetchone()
        return None if row is None else bytes(row[0])
    data = tables.rate_deck_data.c
    blob = connection.scalar(select(data.data).where(data.version_id == version_id))
    return None if blob is None else bytes(blob)
