"""The storage boundary: everything outside ``storage/`` reaches a store through this package.

Open one (``open_store``) and use it through the protocols of ``interface`` (``Storage``: a
``Repository``, a ``TextSearch`` and a ``VectorSearch``); look after one (``check``, ``repair``,
``backup``, the engine's own ``self_test``); the plain values it takes and returns (``rows``).
Two engines, each in its own package with its own migrations: SQLite with sqlite-vec and FTS5
(``storage/sqlite/``, the default, a file) and PostgreSQL with pgvector (``storage/postgres/``,
a ``postgresql://`` URI, imported only then); nothing else imports a driver or writes SQL
(tests/test_layers.py checks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from remembrancer.errors import StoreError
from remembrancer.storage.interface import Repository, Storage, TextSearch, VectorSearch
from remembrancer.storage.rows import (
    Beside,
    IntegrityReport,
    Link,
    MemoryRow,
    NewMemory,
    RowFilter,
    float32_bytes,
    is_database_uri,
)
from remembrancer.storage.sqlite import maintenance as sqlite_maintenance
from remembrancer.storage.sqlite.connection import connect, self_test
from remembrancer.storage.sqlite.store import Store

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
    "is_database_uri",
    "open_store",
    "repair",
    "self_test",
]


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


def _postgres(store: Storage) -> Any:
    """The Postgres engine's maintenance module when the store is one (imported only then)."""
    if isinstance(store, Store):
        return None
    from remembrancer.storage.postgres import maintenance as postgres

    return postgres


def check(store: Storage, quick: bool = True) -> IntegrityReport:
    """The engine's own check, then every memory against its vector and its text entry."""
    engine = _postgres(store)
    return engine.check(store) if engine else sqlite_maintenance.check(_sqlite(store), quick)


def repair(store: Storage, embed: Callable[[Sequence[str]], list[bytes]]) -> IntegrityReport:
    """Rebuild what is derived from the memory rows: missing vectors, orphans, the text index."""
    engine = _postgres(store)
    return engine.repair(store, embed) if engine else sqlite_maintenance.repair(_sqlite(store), embed)


def backup(store: Storage, target: Path) -> int:
    """A consistent copy of the store while others write; the number of pages copied."""
    engine = _postgres(store)
    return engine.backup(store, target) if engine else sqlite_maintenance.backup(_sqlite(store), target)


def _sqlite(store: Storage) -> Store:
    if not isinstance(store, Store):
        raise StoreError(f"not a SQLite store: {type(store).__name__}")
    return store
