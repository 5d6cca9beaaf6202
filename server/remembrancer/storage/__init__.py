"""The storage boundary: everything outside ``storage/`` reaches a store through this package.

Open one (``open_store``), look after one (``check``, ``repair``, ``backup``, the engine's own
``self_test``), and the plain values it takes and returns (``rows``). One engine today: SQLite
with sqlite-vec and FTS5, all of it in ``storage/sqlite/`` with its migrations; nothing else
imports SQLite or writes SQL (tests/test_layers.py checks).
"""

from __future__ import annotations

from pathlib import Path

from remembrancer.storage.rows import Beside, MemoryRow, NewMemory, RowFilter, float32_bytes
from remembrancer.storage.sqlite.connection import connect, self_test
from remembrancer.storage.sqlite.links import Link
from remembrancer.storage.sqlite.maintenance import IntegrityReport, backup, check, repair
from remembrancer.storage.sqlite.store import Store

__all__ = [
    "Beside",
    "IntegrityReport",
    "Link",
    "MemoryRow",
    "NewMemory",
    "RowFilter",
    "Store",
    "backup",
    "check",
    "float32_bytes",
    "open_store",
    "repair",
    "self_test",
]


def open_store(path: Path, *, busy_timeout: float = 30.0, migrate: bool = True) -> Store:
    """The store in this file, its schema brought up to date unless ``migrate`` is false."""
    path = path.expanduser()
    return Store(connect(path, migrate_schema=migrate, busy_timeout=busy_timeout), str(path))
