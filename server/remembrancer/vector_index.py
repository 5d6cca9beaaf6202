"""An in-memory copy of the vectors for nearest-neighbour search, kept in step with the store.

sqlite-vec's vec0 table is the vectors' home; searching it is a brute-force scan inside SQLite
that costs about 0.6 ms per thousand vectors here (70 ms at 100k). A numpy matrix per scope
answers the same question in a few milliseconds. Above ``COMPACT_ABOVE`` vectors the copy is
compact: sign bits for a Hamming-distance first pass, then int8 vectors to rerank a few
thousand candidates (1M vectors take 432 MB instead of 1.5 GB).

Other processes may write to the same file. Every vector change is appended to the
``vector_log`` table in the writing transaction; before a search, a changed
``pragma data_version`` (another connection committed) makes us replay the log since our
last position, or reload everything when the log no longer reaches back that far.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

Connection = Any
COMPACT_ABOVE = 300_000
CANDIDATES = 4_000


class _Partition:
    """The vectors of one scope: rowids, and either float32 rows or sign bits plus int8 rows."""

    def __init__(self, dim: int, compact: bool) -> None:
        self.dim, self.compact = dim, compact
        self.rowids = np.empty(0, dtype=np.int64)
        self.exact = np.empty((0, dim), dtype=np.float32)
        self.bits = np.empty((0, (dim + 63) // 64), dtype=np.uint64)
        self.small = np.empty((0, dim), dtype=np.int8)
        self.position: dict[int, int] = {}
        self.pending: list[tuple[int, np.ndarray]] = []
        self.dead: set[int] = set()

    def add(self, rowid: int, vector: np.ndarray) -> None:
        self.dead.discard(rowid)
        if rowid in self.position:  # a changed vector: drop the old row at the next flush
            self.dead.add(rowid)
        self.pending.append((rowid, vector))

    def remove(self, rowid: int) -> None:
        self.pending = [(r, v) for r, v in self.pending if r != rowid]
        if rowid in self.position:
            self.dead.add(rowid)

    def _flush(self) -> None:
        if not self.pending and not self.dead:
            return
        keep = np.ones(len(self.rowids), dtype=bool)
        for rowid in self.dead:
            keep[self.position[rowid]] = False
        latest = dict(self.pending)
        new_rowids = np.fromiter(latest, dtype=np.int64, count=len(latest))
        new_rows = np.stack(list(latest.values())) if latest else np.empty((0, self.dim), dtype=np.float32)
        self.rowids = np.concatenate([self.rowids[keep], new_rowids])
        if self.compact:
            self.bits = np.concatenate([self.bits[keep], _sign_bits(new_rows)])
            self.small = np.concatenate([self.small[keep], _int8(new_rows)])
        else:
            self.exact = np.concatenate([self.exact[keep], new_rows])
        self.position = {int(rowid): index for index, rowid in enumerate(self.rowids)}
        self.pending, self.dead = [], set()

    def __len__(self) -> int:
        self._flush()
        return len(self.rowids)

    def scores(self, query: np.ndarray, among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, cosine similarities) for every row, or the rows at positions ``among``."""
        self._flush()
        rowids = self.rowids if among is None else self.rowids[among]
        if not self.compact:
            rows = self.exact if among is None else self.exact[among]
            return rowids, rows @ query
        if among is None and len(self.rowids) > CANDIDATES:
            hamming = np.bitwise_count(self.bits ^ _sign_bits(query[None, :])).sum(axis=1)
            among = np.argpartition(hamming, CANDIDATES)[:CANDIDATES]
            rowids = self.rowids[among]
        rows = self.small if among is None else self.small[among]
        return rowids, (rows.astype(np.float32) @ query) / 127.0


def _sign_bits(rows: np.ndarray) -> np.ndarray:
    packed = np.packbits(rows > 0, axis=1)
    width = (rows.shape[1] + 63) // 64 * 8
    padded = np.zeros((rows.shape[0], width), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    return padded.view(np.uint64)


def _int8(rows: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(rows * 127.0), -127, 127).astype(np.int8)


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.lock = threading.RLock()
        self.partitions: dict[str, _Partition] = {}
        self.scope_of: dict[int, str] = {}
        self.loaded = False
        self.log_position = 0
        self.data_version: int | None = None
        self.compact = False

    # -- keeping in step ----------------------------------------------------------------------

    def ensure_current(self, conn: Connection) -> None:
        """Load on first use, then replay what other connections changed. Caller holds the store lock."""
        with self.lock:
            version = int(conn.execute("pragma data_version").fetchone()[0])
            if self.loaded and version == self.data_version:
                return
            if not self.loaded:
                self._load(conn)
            else:
                self._replay(conn)
            self.data_version = version

    def _load(self, conn: Connection) -> None:
        position = conn.execute("select coalesce(max(seq), 0) from vector_log").fetchone()[0]
        total = conn.execute("select count(*) from memories").fetchone()[0]
        self.compact = total > COMPACT_ABOVE
        self.partitions, self.scope_of = {}, {}
        for rowid, scope, blob in conn.execute("select rowid, scope, embedding from memory_vectors"):
            self._put(int(rowid), str(scope), np.frombuffer(blob, dtype=np.float32))
        self.log_position, self.loaded = int(position), True

    def _replay(self, conn: Connection) -> None:
        oldest = conn.execute("select min(seq) from vector_log").fetchone()[0]
        if oldest is not None and oldest > self.log_position + 1:  # the log was trimmed past us
            self._load(conn)
            return
        changes = conn.execute(
            "select seq, rowid, op from vector_log where seq > ? order by seq", (self.log_position,)
        ).fetchall()
        for seq, rowid, op in changes:
            if op == "reset":
                self._load(conn)
                return
            if op == "delete":
                self.remove(int(rowid))
            else:
                found = conn.execute(
                    "select v.embedding, m.scope from memory_vectors v join memories m on m.rowid = v.rowid"
                    " where v.rowid = ?",
                    (rowid,),
                ).fetchone()
                if found is not None:
                    self._put(int(rowid), str(found[1]), np.frombuffer(found[0], dtype=np.float32))
            self.log_position = int(seq)

    def committed_own_changes(self, version_before: int, position: int) -> None:
        """After our own commit: if nobody else wrote since our last look, skip our own log
        entries (``position``, read before the commit), which are already applied."""
        with self.lock:
            if self.loaded and version_before == self.data_version:
                self.log_position = position

    # -- changes made by this process ------------------------------------------------------

    def _put(self, rowid: int, scope: str, vector: np.ndarray) -> None:
        previous = self.scope_of.get(rowid)
        if previous is not None and previous != scope:
            self.partitions[previous].remove(rowid)
        partition = self.partitions.get(scope)
        if partition is None:
            partition = self.partitions[scope] = _Partition(self.dim, self.compact)
        partition.add(rowid, vector)
        self.scope_of[rowid] = scope

    def put(self, rowid: int, scope: str, vector: bytes) -> None:
        with self.lock:
            if self.loaded:
                self._put(rowid, scope, np.frombuffer(vector, dtype=np.float32))

    def remove(self, rowid: int) -> None:
        with self.lock:
            scope = self.scope_of.pop(rowid, None)
            if scope is not None:
                self.partitions[scope].remove(rowid)

    def reset(self) -> None:
        with self.lock:
            self.loaded = False

    # -- searching ----------------------------------------------------------------------------

    def nearest(self, vector: bytes, scopes: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(rowid, cosine distance) of the k nearest vectors in the given scopes."""
        query = np.frombuffer(vector, dtype=np.float32)
        with self.lock:
            found = [self.partitions[s].scores(query) for s in scopes if s in self.partitions]
        return _top(found, k)

    def nearest_among(self, vector: bytes, rowids: Iterable[int], k: int) -> list[tuple[int, float]]:
        """The same, restricted to the given rows (a filter's survivors)."""
        query = np.frombuffer(vector, dtype=np.float32)
        by_scope: dict[str, list[int]] = {}
        with self.lock:
            for rowid in rowids:
                scope = self.scope_of.get(rowid)
                if scope is not None:
                    by_scope.setdefault(scope, []).append(rowid)
            found = []
            for scope, members in by_scope.items():
                partition = self.partitions[scope]
                len(partition)  # flush pending changes so positions are current
                positions = np.fromiter((partition.position[r] for r in members), dtype=np.int64)
                found.append(partition.scores(query, positions))
        return _top(found, k)


def _top(found: list[tuple[np.ndarray, np.ndarray]], k: int) -> list[tuple[int, float]]:
    if not found:
        return []
    rowids = np.concatenate([rows for rows, _ in found])
    scores = np.concatenate([values for _, values in found])
    if len(scores) > k:
        best = np.argpartition(-scores, k)[:k]
        rowids, scores = rowids[best], scores[best]
    order = np.argsort(-scores, kind="stable")
    return [(int(rowids[i]), float(1.0 - scores[i])) for i in order]
