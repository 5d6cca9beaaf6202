"""Every vector of the vec0 table, read in bulk: what loading the in-memory copy waits on.

A full scan of the virtual table (``select ... from memory_vectors``) hands out one row at a
time: 15 s for a million vectors here. vec0 keeps its vectors in chunks of 1,024 (sqlite-vec
0.1: ``<table>_chunks`` holds each chunk's partition key, validity bitmap and rowids,
``<table>_vector_chunks00`` its vectors as one blob), and reading those chunks takes 0.7 s.

That layout is sqlite-vec's own business, so it is checked before it is trusted: the columns
must be the expected ones, the count of valid vectors must match vec0's rowid table, and a
sample of vectors must equal what the virtual table returns. If anything differs, the
vectors are read through the virtual table instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from remembrancer.storage.sqlite.connection import Connection
from remembrancer.storage.sqlite.sql import marks

log = logging.getLogger(__name__)

TABLE = "memory_vectors"
CHUNK_COLUMNS = {"chunk_id", "size", "partition00", "validity", "rowids"}
VECTOR_COLUMNS = {"rowid", "vectors"}
SCAN_CHUNK = 20_000
SAMPLES = 8

# (scope, rowids, float32 rows) of one group of vectors
Group = tuple[str, np.ndarray, np.ndarray]
# (scope, rowids of its live vectors, which of its slots are live) of one vec0 chunk
Chunk = tuple[str, np.ndarray, np.ndarray]


def read_vectors(conn: Connection, dim: int) -> Iterator[Group]:
    """Every live vector, a group at a time. Call it inside ``snapshot()``: it reads in several
    statements, which must all see the same state of the file."""
    chunks = _checked_chunks(conn, dim)
    if chunks is None:
        yield from _from_scan(conn, dim)
        return
    vectors = conn.execute(f"select rowid, vectors from {TABLE}_vector_chunks00 order by rowid")
    for chunk_id, blob in vectors:
        chunk = chunks.get(int(chunk_id))
        if chunk is not None:
            scope, rowids, valid = chunk
            yield scope, rowids, np.frombuffer(blob, dtype=np.float32).reshape(len(valid), dim)[valid]


@contextmanager
def snapshot(conn: Connection) -> Iterator[None]:
    """One read transaction, unless the connection is already inside a transaction."""
    if conn.in_transaction:  # a write transaction of ours already sees one state
        yield
        return
    conn.execute("begin")
    try:
        yield
    finally:
        conn.execute("commit")


def _columns(conn: Connection, table: str) -> set[str]:
    return {str(row[1]) for row in conn.execute(f"pragma table_info({table})")}


def _checked_chunks(conn: Connection, dim: int) -> dict[int, Chunk] | None:
    """Every chunk by id, once the layout has checked out; None if it did not."""
    if not (
        _columns(conn, f"{TABLE}_chunks") >= CHUNK_COLUMNS
        and _columns(conn, f"{TABLE}_vector_chunks00") >= VECTOR_COLUMNS
    ):
        log.warning("sqlite-vec's chunk tables are not as expected; reading vectors one by one")
        return None
    chunks: dict[int, Chunk] = {}
    lengths = dict(conn.execute(f"select rowid, length(vectors) from {TABLE}_vector_chunks00"))
    for chunk_id, size, scope, validity, rowids in conn.execute(
        f"select chunk_id, size, partition00, validity, rowids from {TABLE}_chunks"
    ):
        if len(rowids) != 8 * size or len(validity) * 8 < size or lengths.get(chunk_id) != 4 * dim * size:
            log.warning("a sqlite-vec chunk has an unexpected size; reading vectors one by one")
            return None
        valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")[:size].astype(bool)
        if valid.any():
            chunks[int(chunk_id)] = (str(scope), np.frombuffer(rowids, dtype=np.int64)[valid], valid)
    return chunks if _agrees_with_vec0(conn, chunks, dim) else None


def _agrees_with_vec0(conn: Connection, chunks: dict[int, Chunk], dim: int) -> bool:
    """The decoded layout against vec0's own answers: the count of vectors; for a sample of
    chunks (partly filled ones first, where a misread bitmap would show), every slot's rowid
    against vec0's rowid table; and one vector of each against the virtual table."""
    expected = int(conn.execute(f"select count(*) from {TABLE}_rowids").fetchone()[0])
    found = sum(len(chunk[1]) for chunk in chunks.values())
    if found != expected:
        log.warning(
            "counted %d vectors in sqlite-vec's chunks, expected %d; reading one by one", found, expected
        )
        return False
    rng = np.random.default_rng()
    partial = [chunk_id for chunk_id, chunk in chunks.items() if not chunk[2].all()]
    full = [chunk_id for chunk_id, chunk in chunks.items() if chunk[2].all()]
    sample = [int(i) for i in rng.permutation(partial)[:SAMPLES]] + [
        int(i) for i in rng.permutation(full)[:SAMPLES]
    ]
    if not sample:
        return True
    slots = {
        (chunk_id, int(offset)): rowid
        for chunk_id in sample
        for offset, rowid in zip(
            np.flatnonzero(chunks[chunk_id][2]), chunks[chunk_id][1].tolist(), strict=True
        )
    }
    listed = conn.execute(
        f"select chunk_id, chunk_offset, rowid from {TABLE}_rowids where chunk_id in ({marks(len(sample))})",
        sample,
    )
    if slots != {(int(chunk_id), int(offset)): int(rowid) for chunk_id, offset, rowid in listed}:
        log.warning("sqlite-vec's chunks disagree with its rowid table; reading vectors one by one")
        return False
    for chunk_id in sample:
        scope, rowids, valid = chunks[chunk_id]
        blob = conn.execute(
            f"select vectors from {TABLE}_vector_chunks00 where rowid = ?", (chunk_id,)
        ).fetchone()
        if blob is None or len(blob[0]) != 4 * dim * len(valid):
            log.warning("a sqlite-vec chunk's vectors are missing or of another size; reading one by one")
            return False
        row = int(rng.integers(len(rowids)))
        mine = np.frombuffer(blob[0], dtype=np.float32).reshape(len(valid), dim)[valid][row].tobytes()
        stored = conn.execute(
            f"select embedding, scope from {TABLE} where rowid = ?", (int(rowids[row]),)
        ).fetchone()
        if stored is None or stored[1] != scope or stored[0] != mine:
            log.warning("sqlite-vec's chunks disagree with its table; reading vectors one by one")
            return False
    return True


def _from_scan(conn: Connection, dim: int) -> Iterator[Group]:
    cursor = conn.execute(f"select rowid, scope, embedding from {TABLE}")
    while chunk := cursor.fetchmany(SCAN_CHUNK):  # whole chunks at a time: no per-row Python
        by_scope: dict[str, list[tuple[int, bytes]]] = {}
        for rowid, scope, blob in chunk:
            by_scope.setdefault(str(scope), []).append((int(rowid), blob))
        for scope, rows in by_scope.items():
            rowids = np.fromiter((rowid for rowid, _ in rows), dtype=np.int64, count=len(rows))
            matrix = np.frombuffer(b"".join(blob for _, blob in rows), dtype=np.float32).reshape(-1, dim)
            yield scope, rowids, matrix
