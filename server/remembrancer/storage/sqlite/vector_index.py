"""An in-memory copy of the vectors for nearest-neighbour search, kept in step with the store.

sqlite-vec's vec0 table is the vectors' home; searching it is a brute-force scan inside SQLite
that costs about 0.6 ms per thousand vectors here (70 ms at 100k). A numpy matrix per scope
answers the same question in a few milliseconds. Above ``COMPACT_ABOVE`` vectors the copy is
compact: sign bits for a Hamming-distance first pass, then int8 vectors to rerank a few
thousand candidates (1M vectors take 436 MB instead of 1.5 GB).

Other processes may write to the same file. Every vector change is appended to the
``vector_log`` table in the writing transaction; before a search, a changed
``pragma data_version`` (another connection committed) makes us replay the log since our
last position, or reload everything when the log no longer reaches back that far.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
import threading
from collections.abc import Iterable, Sequence

import numpy as np

from remembrancer.storage.sqlite.connection import Connection
from remembrancer.storage.sqlite.vec0_reader import read_vectors, snapshot

COMPACT_ABOVE = 50_000
CANDIDATES = 4_000


class _Partition:
    """The vectors of one scope in growable arrays: float32 rows, or sign bits plus int8 rows.

    Adding writes into spare capacity; a changed or removed vector only clears its ``alive``
    flag, and the arrays are compacted once a quarter of their rows are dead. Sign bits are
    stored word-major (one row per 64 dimensions): adding up six long rows of bit counts is
    several times faster than summing six counts within each of a million short rows.
    """

    def __init__(self, dim: int, compact: bool) -> None:
        self.dim, self.compact = dim, compact
        self.size = 0
        self.rowids = np.empty(0, dtype=np.int64)
        self.alive = np.empty(0, dtype=bool)
        self.exact = np.empty((0, dim), dtype=np.float32)
        self.bits = np.empty(((dim + 63) // 64, 0), dtype=np.uint64)
        self.small = np.empty((0, dim), dtype=np.int8)
        self.scale = np.empty(0, dtype=np.float32)  # per row: small * scale ≈ the vector
        self.position: dict[int, int] = {}
        self.dead = 0

    def _reserve(self, extra: int) -> None:
        needed = self.size + extra
        if needed > len(self.rowids):
            self._resize(max(needed, 2 * len(self.rowids), 1024))

    def fit(self) -> None:
        """Give back the spare capacity that doubling left (up to half the arrays), keeping some."""
        if len(self.rowids) > self.size + self.size // 8 + 1024:
            self._resize(self.size + self.size // 16 + 1024)

    def _resize(self, capacity: int) -> None:
        def resized(array: np.ndarray) -> np.ndarray:
            fresh = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
            fresh[: self.size] = array[: self.size]
            return fresh

        self.rowids, self.alive = resized(self.rowids), resized(self.alive)
        if self.compact:
            bits = np.zeros((self.bits.shape[0], capacity), dtype=np.uint64)
            bits[:, : self.size] = self.bits[:, : self.size]
            self.bits, self.small, self.scale = bits, resized(self.small), resized(self.scale)
        else:
            self.exact = resized(self.exact)

    def extend(self, rowids: np.ndarray, rows: np.ndarray) -> None:
        for rowid in rowids.tolist():
            self._kill(rowid)
        self._reserve(len(rowids))
        span = slice(self.size, self.size + len(rowids))
        self.rowids[span], self.alive[span] = rowids, True
        if self.compact:
            self.bits[:, span] = _sign_bits(rows).T
            self.small[span], self.scale[span] = _int8(rows)
        else:
            self.exact[span] = rows
        self.position.update(zip(rowids.tolist(), range(span.start, span.stop), strict=True))
        self.size = span.stop

    def add(self, rowid: int, vector: np.ndarray) -> None:
        self.extend(np.array([rowid], dtype=np.int64), vector[None, :])

    def _kill(self, rowid: int) -> None:
        index = self.position.pop(rowid, None)
        if index is not None:
            self.alive[index] = False
            self.dead += 1

    def remove(self, rowid: int) -> None:
        self._kill(rowid)
        if self.dead > 1000 and self.dead * 4 > self.size:
            self._compact_rows()

    def _compact_rows(self) -> None:
        keep = np.flatnonzero(self.alive[: self.size])
        self.rowids, self.alive = self.rowids[keep], np.ones(len(keep), dtype=bool)
        if self.compact:
            self.bits, self.small, self.scale = self.bits[:, keep], self.small[keep], self.scale[keep]
        else:
            self.exact = self.exact[keep]
        self.size, self.dead = len(keep), 0
        self.position = dict(zip(self.rowids.tolist(), range(self.size), strict=True))

    def __len__(self) -> int:
        return self.size - self.dead

    def __contains__(self, rowid: int) -> bool:
        return rowid in self.position

    def pair_scores(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """The cosine similarity of the rows at positions ``first`` to those at ``second``."""
        if self.compact:
            dots: np.ndarray = np.einsum("ij,ij->i", self.small[first].astype(np.float32), self.small[second])
            scaled: np.ndarray = dots * self.scale[first] * self.scale[second]
            return scaled
        exact: np.ndarray = np.einsum("ij,ij->i", self.exact[first], self.exact[second])
        return exact

    def scores(self, query: np.ndarray, among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rowids, cosine similarities) of the live rows, or of the rows at positions ``among``."""
        if among is None and self.compact and len(self) > CANDIDATES:
            hamming = _hamming(self.bits[:, : self.size], _sign_bits(query[None, :])[0])
            if self.dead:
                hamming[~self.alive[: self.size]] = np.iinfo(hamming.dtype).max
            among = np.argpartition(hamming, CANDIDATES)[:CANDIDATES]
        if among is not None:
            among = among[self.alive[among]]
            if self.compact:
                return self.rowids[among], (self.small[among].astype(np.float32) @ query) * self.scale[among]
            return self.rowids[among], self.exact[among] @ query
        # Every row, views only (no copies); dead rows score below anything alive.
        if self.compact:
            scores = (self.small[: self.size].astype(np.float32) @ query) * self.scale[: self.size]
        else:
            scores = self.exact[: self.size] @ query
        if self.dead:
            scores[~self.alive[: self.size]] = -np.inf
        return self.rowids[: self.size], scores


def _return_freed_memory(conn: Connection) -> None:
    """After a load: drop the pages the scan left in SQLite's cache, and hand the heap that the
    chunks and grown arrays used back to the system (glibc keeps freed memory otherwise)."""
    conn.execute("pragma shrink_memory")
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def _sign_bits(rows: np.ndarray) -> np.ndarray:
    packed = np.packbits(rows > 0, axis=1)
    width = (rows.shape[1] + 63) // 64 * 8
    padded = np.zeros((rows.shape[0], width), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    return padded.view(np.uint64)


def _hamming(bits: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distances from the query's sign bits to each column of word-major ``bits``."""
    counts: np.ndarray = np.bitwise_count(bits ^ query[:, None])
    total: np.ndarray = counts[0].astype(np.uint16)
    for row in counts[1:]:
        total += row
    return total


def _int8(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows as int8 with one scale each. Each row uses the whole int8 range: a unit vector's
    components are small (about +-0.2 here), so one fixed scale would leave it a few dozen
    levels and reorder close neighbours (top-10 overlap 0.97 instead of 0.997 at 1M)."""
    scale = np.maximum(np.abs(rows).max(axis=1), 1e-12).astype(np.float32) / 127.0
    return np.clip(np.rint(rows / scale[:, None]), -127, 127).astype(np.int8), scale


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.lock = threading.RLock()
        self.partitions: dict[str, _Partition] = {}
        self._size: int | None = None  # the live rows of every partition; None: count again
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
        with snapshot(conn):
            position = conn.execute("select coalesce(max(seq), 0) from vector_log").fetchone()[0]
            total = conn.execute("select count(*) from memories").fetchone()[0]
            self.compact = total > COMPACT_ABOVE
            self.partitions = {}
            for scope, rowids, matrix in read_vectors(conn, self.dim):
                self._partition(scope).extend(rowids, matrix)
        for partition in self.partitions.values():
            partition.fit()
        self._size = None
        self.log_position, self.loaded = int(position), True
        _return_freed_memory(conn)

    def _partition(self, scope: str) -> _Partition:
        partition = self.partitions.get(scope)
        if partition is None:
            partition = self.partitions[scope] = _Partition(self.dim, self.compact)
        return partition

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
        self._size = None
        for name, partition in self.partitions.items():
            if name != scope and rowid in partition:  # it moved scope
                partition.remove(rowid)
        self._partition(scope).add(rowid, vector)

    def put(self, rowid: int, scope: str, vector: bytes) -> None:
        with self.lock:
            if self.loaded:
                self._put(rowid, scope, np.frombuffer(vector, dtype=np.float32))

    def remove(self, rowid: int) -> None:
        with self.lock:
            self._size = None
            for partition in self.partitions.values():
                partition.remove(rowid)

    def reset(self) -> None:
        with self.lock:
            self.loaded = False

    # -- searching ----------------------------------------------------------------------------

    def __len__(self) -> int:
        with self.lock:  # asked by every recall: counted once after each change, not per scope each time
            if self._size is None:
                self._size = sum(len(partition) for partition in self.partitions.values())
            return self._size

    def share_of(self, scopes: Sequence[str]) -> float:
        """The share of all vectors that these scopes hold; 1.0 before the copy is loaded."""
        with self.lock:
            total = len(self)
            if not self.loaded or total == 0:
                return 1.0
            return sum(len(self.partitions[scope]) for scope in scopes if scope in self.partitions) / total

    def nearest(self, vector: bytes, scopes: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(rowid, cosine distance) of the k nearest vectors in the given scopes."""
        query = np.frombuffer(vector, dtype=np.float32)
        with self.lock:
            found = [self.partitions[s].scores(query) for s in scopes if s in self.partitions]
        return _top(found, k)

    def nearest_among(
        self, vector: bytes, rowids: Iterable[int], scopes: Sequence[str], k: int
    ) -> list[tuple[int, float]]:
        """The same, restricted to the given rows (a filter's survivors), all in these scopes: only
        their partitions are looked at, since a store may hold thousands."""
        query = np.frombuffer(vector, dtype=np.float32)
        with self.lock:
            wanted = list(rowids)
            found = []
            for partition in (self.partitions[scope] for scope in set(scopes) if scope in self.partitions):
                positions = [partition.position[rowid] for rowid in wanted if rowid in partition.position]
                if positions:
                    found.append(partition.scores(query, np.array(positions, dtype=np.int64)))
        return _top(found, k)

    def pair_cosines(self, pairs: Sequence[tuple[str, int, int]]) -> list[float | None]:
        """The cosine similarity of the two stored vectors of each (scope, rowid, rowid) pair, None
        unless both are in that scope (a sitting never spans two). Only the named scopes are
        looked at: a store may hold thousands."""
        found: list[float | None] = [None] * len(pairs)
        by_scope: dict[str, list[tuple[int, int, int]]] = {}
        for n, (scope, a, b) in enumerate(pairs):
            by_scope.setdefault(scope, []).append((n, a, b))
        with self.lock:
            for scope, wanted in by_scope.items():
                partition = self.partitions.get(scope)
                at = partition.position if partition is not None else {}
                both = [(n, at[a], at[b]) for n, a, b in wanted if a in at and b in at]
                if partition is not None and both:
                    which, first, second = (np.array(column) for column in zip(*both, strict=True))
                    for n, cosine in zip(
                        which.tolist(), partition.pair_scores(first, second).tolist(), strict=True
                    ):
                        found[n] = cosine
        return found


def _top(found: list[tuple[np.ndarray, np.ndarray]], k: int) -> list[tuple[int, float]]:
    if not found:
        return []
    rowids = np.concatenate([rows for rows, _ in found])
    scores = np.concatenate([values for _, values in found])
    if len(scores) > k:
        best = np.argpartition(-scores, k)[:k]
        rowids, scores = rowids[best], scores[best]
    order = np.argsort(-scores, kind="stable")
    return [(int(rowids[i]), float(1.0 - scores[i])) for i in order if np.isfinite(scores[i])]
