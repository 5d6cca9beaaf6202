"""Opening a PostgreSQL database with pgvector (psycopg 3), and its errors as ours.

psycopg 3 because it is the maintained driver with native nested transactions (savepoints),
server-side parameter binding and binary copies; pgvector's own adapter passes numpy float32
arrays as ``vector`` values with no text round trip.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from psycopg import errors

from remembrancer.errors import StoreBusy, StoreError
from remembrancer.storage.postgres.migrations import migrate

log = logging.getLogger(__name__)
Connection = psycopg.Connection[Any]
T = TypeVar("T")


def redacted(uri: str) -> str:
    """The URI with its password hidden, for messages and logs (still a URI a person can fix)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(uri)
    except psycopg.Error:
        return "postgresql://(an unreadable URI)"
    user = str(info.pop("user", "") or "")
    if info.pop("password", None):
        user += ":***"
    host, port, dbname = (str(info.pop(key, "") or "") for key in ("host", "port", "dbname"))
    if host.startswith("/"):  # a socket folder goes in the query
        info["host"] = host
        host = ""
    where = f"{host}:{port}" if port else host
    query = "&".join(f"{key}={value}" for key, value in info.items() if value is not None)
    return f"postgresql://{user}{'@' if user else ''}{where}/{dbname}" + (f"?{query}" if query else "")


def one_line(exc: Exception) -> str:
    """The server's message on one line (it spreads hints over several)."""
    return " ".join(str(exc).split()).rstrip(".")


def engine_error(exc: Exception, busy_timeout: float) -> StoreError:
    """A PostgreSQL error as one of ours, with what to do about it."""
    if isinstance(exc, errors.LockNotAvailable | errors.QueryCanceled | errors.DeadlockDetected):
        return StoreBusy(
            f"the store is busy: another server held what this change needs for more than "
            f"{busy_timeout:g} s. Nothing was changed; retry, or raise REMEMBRANCER_BUSY_TIMEOUT."
        )
    if isinstance(exc, errors.DiskFull):
        return StoreError(
            f"the database cannot be written: {one_line(exc)}. Nothing was changed; free space and retry."
        )
    if isinstance(exc, psycopg.OperationalError):
        return StoreError(
            f"the database server cannot be reached: {one_line(exc)}. Check that it runs, then retry."
        )
    return StoreError(f"the store failed: {one_line(exc)}. Run `remembrancer doctor` to check the database.")


@contextmanager
def translated(busy_timeout: float) -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        raise engine_error(exc, busy_timeout) from exc


#: Candidates the HNSW search keeps per step: 100 gave recall@10 0.93-0.98 of exact at 100k
#: memories for 10-12 ms here (40: 0.92, 200: 0.94, same time with iterative scans).
HNSW_EF_SEARCH = 100


def connect(uri: str, *, busy_timeout: float, migrate_schema: bool = True) -> Connection:
    """A connection in autocommit mode (transactions are explicit), with pgvector's types."""
    try:
        psycopg.conninfo.conninfo_to_dict(uri)
    except psycopg.Error as exc:
        raise StoreError(
            f"not a PostgreSQL URI: {redacted(uri)} ({one_line(exc)}). Use"
            f" postgresql://USER:PASSWORD@HOST/DB."
        ) from None
    try:
        conn = psycopg.connect(uri, autocommit=True, connect_timeout=max(1, round(busy_timeout)))
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot connect to {redacted(uri)}: {one_line(exc)}. Check the URI and that the server runs."
        ) from None
    try:
        conn.execute(f"set lock_timeout = {round(busy_timeout * 1000)}")
        if migrate_schema:
            applied = migrate(conn, datetime.now(UTC).isoformat(timespec="microseconds"))
            if applied:
                log.info("database %s: applied schema steps %s", redacted(uri), applied)
        from pgvector.psycopg import register_vector

        register_vector(conn)
        # A search of the HNSW index goes on until it has k rows of the scopes asked (relaxed
        # order: the caller sorts them); ef_search trades speed for recall (bench/scale.py).
        conn.execute("set hnsw.iterative_scan = relaxed_order")
        conn.execute(f"set hnsw.ef_search = {HNSW_EF_SEARCH}")
    except psycopg.Error as exc:
        conn.close()
        raise StoreError(
            f"cannot use the database {redacted(uri)}: {one_line(exc)}. "
            "It needs the pgvector extension (`create extension vector` as a superuser)."
        ) from None
    return conn


def self_test(conn: Connection) -> str:
    """The server and pgvector versions, and whether the server's buffer cache holds the vectors
    and their index: a search of an index read through the OS cache instead took 17-21 ms at
    100k memories here, against 9-12 ms from the cache (bench/pg.py)."""
    version, vector, buffers, buffers_shown, vectors, vectors_shown = conn.execute(
        "with v as (select coalesce(pg_total_relation_size(to_regclass('memory_vectors')), 0) as n)"
        " select current_setting('server_version'), (select extversion from pg_extension where"
        " extname = 'vector'), pg_size_bytes(current_setting('shared_buffers')),"
        " pg_size_pretty(pg_size_bytes(current_setting('shared_buffers'))), v.n, pg_size_pretty(v.n) from v"
    ).fetchone() or ("?", None, 0, "?", 0, "?")
    described = f"PostgreSQL {version} with pgvector {vector or 'missing'}; shared_buffers {buffers_shown}"
    if vectors <= buffers:
        return f"{described} holds the vectors and their index ({vectors_shown})"
    return (
        f"{described} is smaller than the vectors and their index"
        f" ({vectors_shown}), so recall reads them through the OS cache at about half the speed:"
        f" set shared_buffers above {vectors_shown} and restart the server"
    )


def call(busy_timeout: float, work: Callable[[], T]) -> T:
    with translated(busy_timeout):
        return work()
