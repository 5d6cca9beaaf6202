"""Open a SQLite connection with sqlite-vec loaded, the pragmas we rely on, and the schema current.

We use sqlean.py, a drop-in ``sqlite3`` with a recent SQLite (FTS5 secure-delete and
contentless-delete need 3.43+) that can load extensions on every platform; many Python builds'
own ``sqlite3`` cannot.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlean

from remembrancer.errors import StoreBusy, StoreError
from remembrancer.storage.sqlite.migrations import migrate

log = logging.getLogger(__name__)

Connection = Any  # sqlean.Connection
BUSY_TIMEOUT_MS = 30_000
DatabaseError = sqlean.DatabaseError


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _prepare_location(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder for the database {path.parent}: {exc.strerror}. "
            "Choose a writable location with --db or REMEMBRANCER_DB."
        ) from None
    if path.exists():
        if path.is_dir():
            raise StoreError(f"the database path {path} is a folder; give a file path with --db.")
        if not os.access(path, os.R_OK | os.W_OK):
            raise StoreError(
                f"the database file {path} is not readable and writable by this user; "
                "fix its permissions or choose another file with --db."
            )
    elif not os.access(path.parent, os.W_OK):
        raise StoreError(
            f"cannot create the database in {path.parent}: the folder is not writable. "
            "Choose a writable location with --db or REMEMBRANCER_DB."
        )


def _check_is_ours(conn: Connection, path: Path) -> None:
    """Refuse a corrupt file or someone else's database before anything writes to it."""
    try:
        tables = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
    except DatabaseError as exc:
        raise StoreError(
            f"{path} is not a readable SQLite database ({exc}). It was left untouched. "
            "Run `remembrancer doctor` to check it, restore a backup, or point --db at another file."
        ) from None
    if tables and "schema_migrations" not in tables:
        raise StoreError(
            f"{path} is a SQLite database made by another program (tables: {', '.join(sorted(tables)[:5])}). "
            "It was left untouched; point --db at a new file."
        )


def _with_retries(step: Callable[[], object], seconds: float = BUSY_TIMEOUT_MS / 1000) -> None:
    """Run a step that SQLite refuses outright, busy timeout or not, while another process opens
    the same new file (switching it to WAL needs a moment alone with it)."""
    deadline, pause = time.monotonic() + seconds, 0.01
    while True:
        try:
            step()
            return
        except sqlean.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


def sqlite_vec_path() -> str:
    """The sqlite-vec extension file, found without importing the package: its ``__init__``
    imports numpy, about 50 ms that a server's start-up should not wait for."""
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or spec.origin is None:
        raise StoreError(
            "the sqlite-vec package is not installed; run `make run` or `pip install sqlite-vec`."
        )
    return os.path.join(os.path.dirname(spec.origin), "vec0")


def engine_error(exc: Exception, busy_timeout: float) -> StoreError:
    """An SQLite error as one of ours, with what to do about it."""
    text, name = str(exc), str(getattr(exc, "sqlite_errorname", ""))
    if name.startswith("SQLITE_BUSY"):
        return StoreBusy(
            f"the store is busy: another process held it for more than {busy_timeout:g} s "
            "(a long import, a backup, a stuck process). Nothing was changed; retry, or raise "
            "REMEMBRANCER_BUSY_TIMEOUT."
        )
    if isinstance(exc, sqlean.OperationalError) and ("disk is full" in text or "I/O" in text):
        return StoreError(
            f"the store cannot be written: {text}. Nothing was changed; free disk space and retry."
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return StoreError(
            f"the database file is damaged ({text}). Nothing was changed; restore the file from a"
            " backup (`remembrancer backup` makes one while servers run)."
        )
    return StoreError(f"the store failed: {text}. Run `remembrancer doctor` to check the file.")


class _TranslatedCursor:
    """A cursor whose rows, read one by one or all at once, fail with our errors too: SQLite
    reads pages as rows are stepped through, so a locked or damaged file can fail there."""

    def __init__(self, cursor: Any, busy_timeout: float) -> None:
        self.raw, self.busy_timeout = cursor, busy_timeout

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self.raw
        except sqlean.DatabaseError as exc:
            raise engine_error(exc, self.busy_timeout) from exc

    def fetchone(self) -> Any:
        try:
            return self.raw.fetchone()
        except sqlean.DatabaseError as exc:
            raise engine_error(exc, self.busy_timeout) from exc

    def fetchall(self) -> list[Any]:
        try:
            return list(self.raw.fetchall())
        except sqlean.DatabaseError as exc:
            raise engine_error(exc, self.busy_timeout) from exc

    def fetchmany(self, size: int = 1) -> list[Any]:
        try:
            return list(self.raw.fetchmany(size))
        except sqlean.DatabaseError as exc:
            raise engine_error(exc, self.busy_timeout) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class EngineErrorsTranslated:
    """The connection, raising our StoreError (StoreBusy when locked past the busy timeout)
    instead of SQLite's errors, so callers and clients get a message that says what to do."""

    def __init__(self, conn: Connection, busy_timeout: float) -> None:
        self.raw, self.busy_timeout = conn, busy_timeout

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        try:
            return _TranslatedCursor(self.raw.execute(sql, parameters), self.busy_timeout)
        except sqlean.DatabaseError as exc:
            raise engine_error(exc, self.busy_timeout) from exc

    def backup(self, target: Any, pages: int = -1) -> None:
        try:
            self.raw.backup(target, pages=pages)
        except sqlean.DatabaseError as exc:
            raise engine_error(exc, self.busy_timeout) from exc

    def executemany(self, sql: str, parameters: Any) -> Any:
        try:
            return self.raw.executemany(sql, parameters)
        except sqlean.DatabaseError as exc:
            raise engine_error(exc, self.busy_timeout) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def connect(
    path: Path, *, migrate_schema: bool = True, busy_timeout: float = BUSY_TIMEOUT_MS / 1000
) -> Connection:
    """A connection in autocommit mode: callers open transactions explicitly."""
    path = path.expanduser()
    _prepare_location(path)
    try:
        conn = sqlean.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        conn.enable_load_extension(True)
        conn.load_extension(sqlite_vec_path())
        conn.enable_load_extension(False)
        conn.execute(f"pragma busy_timeout = {round(busy_timeout * 1000)}")
        _check_is_ours(conn, path)
        _with_retries(lambda: conn.execute("pragma journal_mode = wal"), busy_timeout)
        conn.execute("pragma synchronous = normal")
        conn.execute("pragma foreign_keys = on")
        # Freed space is overwritten with zeros: forgotten text must not linger in the file.
        conn.execute("pragma secure_delete = on")
        conn.execute("pragma cache_size = -65536")
        conn.execute("pragma temp_store = memory")
        if migrate_schema:
            applied = migrate(conn, utc_now())
            if applied:
                log.info("database %s: applied schema steps %s", path, applied)
    except DatabaseError as exc:
        raise StoreError(
            f"cannot open the database {path}: {exc}. Nothing was changed. "
            "Run `remembrancer doctor` for details."
        ) from None
    return EngineErrorsTranslated(conn, busy_timeout)


def self_test() -> str:
    """SQLite's version, sqlite-vec's, and FTS5 with secure-delete, in a scratch database."""
    conn = sqlean.connect(":memory:")
    try:
        conn.enable_load_extension(True)
        conn.load_extension(sqlite_vec_path())
        version, vec = conn.execute("select sqlite_version(), vec_version()").fetchone()
        conn.execute("create virtual table probe using fts5(x)")
        conn.execute("insert into probe(probe, rank) values('secure-delete', 1)")
    finally:
        conn.close()
    return f"SQLite {version} with sqlite-vec {vec} and FTS5"
