"""The storage boundary: everything outside ``storage/`` reaches a store through this package.

Open one (``open_store``) and use it through the protocols of ``interface`` (``Storage``: a
``Repository``, a ``TextSearch`` and a ``VectorSearch``); look after one (``check``, ``repair``,
``backup``, the engine's own ``self_test``); the plain values it takes and returns (``rows``).
One engine today: SQLite with sqlite-vec and FTS5, all of it in ``storage/sqlite/`` with its
migrations; nothing else imports SQLite or writes SQL (tests/test_layers.py checks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from remembrancer.errors import StoreError
from remembrancer.storage.interface import Repository, Storage, TextSearch, VectorSearch
from remembrancer.storage.rows import Beside, Link, MemoryRow, NewMemory, RowFilter, float32_bytes
from remembrancer.storage.sqlite import maintenance
from remembrancer.storage.sqlite.connection import connect, self_test
from remembrancer.storage.sqlite.maintenance import IntegrityReport
from remembrancer.storage.sqlite.store import Store

POSTGRES_SCHEMES = ("postgresql://", "postgres://")

__all__ = [
    "Beside",
    "IntegrityReport",
    "Link",
    "MemoryRow",
    "NewMemory",
    "Repository",
    "RowFilter",
    "Storage",
    "TextSearch",
    "VectorSearch",
    "backup",
    "check",
    "float32_bytes",
    "open_store",
    "repair",
    "self_test",
]


def is_database_uri(target: str | Path) -> bool:
    """A PostgreSQL connection URI rather than a file path."""
    return str(target).startswith(POSTGRES_SCHEMES)


def open_store(target: str | Path, *, busy_timeout: float = 30.0, migrate: bool = True) -> Storage:
    """The store at ``target`` (a SQLite file, or a ``postgresql://`` URI), its schema brought up
    to date unless ``migrate`` is false."""
    if is_database_uri(target):
        from remembrancer.storage.postgres import connection as postgres  # psycopg: an extra
        from remembrancer.storage.postgres.store import PostgresStore

        uri = str(target)
        conn = postgres.connect(uri, busy_timeout=busy_timeout, migrate_schema=migrate)
        return PostgresStore(conn, uri, busy_timeout)
    path = Path(target).expanduser()
    return Store(connect(path, migrate_schema=migrate, busy_timeout=busy_timeout), str(path))


def _engine(store: Storage) -> Store:
    if not isinstance(store, Store):
        raise StoreError(f"no maintenance for a store of type {type(store).__name__}")
    return store


def check(store: Storage, quick: bool = True) -> IntegrityReport:
    """The engine's own check, then every memory against its vector and its text entry."""
    return maintenance.check(_engine(store), quick)


def repair(store: Storage, embed: Callable[[Sequence[str]], list[bytes]]) -> IntegrityReport:
    """Rebuild what is derived from the memory rows: missing vectors, orphans, the text index."""
    return maintenance.repair(_engine(store), embed)


def backup(store: Storage, target: Path) -> int:
    """A consistent copy of the store while others write; the number of pages copied."""
    return maintenance.backup(_engine(store), target)
