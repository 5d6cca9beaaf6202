"""The store's searches, as a base class of ``Store``: the in-memory vector copy, full-text
matches and what recall reads about its candidates."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from remembrancer.errors import StoreError
from remembrancer.storage.rows import Beside, RowFilter
from remembrancer.storage.sqlite import text_index
from remembrancer.storage.sqlite.connection import Connection
from remembrancer.storage.sqlite.sql import marks, where_clause

if TYPE_CHECKING:
    from remembrancer.storage.sqlite.vector_index import VectorIndex


class StoreSearch:
    conn: Connection
    lock: threading.RLock
    embedding_dim: int | None
    vectors: VectorIndex | None

    def _current_vectors(self) -> VectorIndex:
        if self.embedding_dim is None:
            raise StoreError("the vector table is not bound to a model yet")
        if self.vectors is None:
            from remembrancer.storage.sqlite.vector_index import (
                VectorIndex,  # numpy: not needed to start serving
            )

            self.vectors = VectorIndex(self.embedding_dim)
        self.vectors.ensure_current(self.conn)
        return self.vectors

    def nearest(self, vector: bytes, scopes: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(rowid, cosine distance) of the k nearest vectors in the given scopes."""
        return self.current_vectors().nearest(vector, scopes, k)

    def searcher(self, scopes: Sequence[str], k: int) -> Callable[[bytes], list[tuple[int, float]]]:
        """A search of the vector copy, brought up to date now: it runs without the store lock."""
        index = self.current_vectors()
        return lambda vector: index.nearest(vector, scopes, k)

    def current_vectors(self) -> VectorIndex:
        """The vector copy, brought up to date; searching it needs no store lock."""
        with self.lock:
            return self._current_vectors()

    def nearest_filtered(self, vector: bytes, row_filter: RowFilter, k: int) -> list[tuple[int, float]]:
        """Nearest neighbours among the rows the filter admits."""
        where, params = where_clause(row_filter)
        with self.lock:
            index = self._current_vectors()
            rowids = [
                row[0] for row in self.conn.execute(f"select m.rowid from memories m where {where}", params)
            ]
        return index.nearest_among(vector, rowids, row_filter.scopes, k)

    def warm_up(self) -> None:
        """Load the in-memory vector copy ahead of the first search."""
        with self.lock:
            self._current_vectors()

    def full_text(
        self,
        words: Sequence[str],
        row_filter: RowFilter,
        k: int,
        frequency: Mapping[str, int] | None = None,
    ) -> list[tuple[int, float]]:
        """(rowid, bm25) of the best full-text matches of any of the words in the filter's
        scopes; lower bm25 is better. Given each word's document frequency, the commonest words
        are left out when matching them all would cost too much (text_index.affordable_words).

        MATCH keeps to the scopes; only a narrowing filter (tags, time) joins each match to its
        row. Superseded rows are few: their rowids are read once and left out."""
        if frequency is not None:
            words = text_index.affordable_words(
                list(words), dict(frequency), self.share_of(row_filter.scopes)
            )
        words_expression = text_index.match_expression(words)
        if words_expression is None:
            return []
        vectors = self.vectors
        every_scope = vectors is not None and vectors.loaded and vectors.share_of(row_filter.scopes) == 1.0
        match = text_index.match_in_scopes(words_expression, row_filter.scopes, every_scope=every_scope)
        weights = ", ".join(str(float(weight)) for weight in text_index.WEIGHTS)
        sql = f"select f.rowid, bm25(memory_fts, {weights}) as s from memory_fts f"
        if row_filter.narrows:
            where, params = where_clause(row_filter)
            sql += f" join memories m on m.rowid = f.rowid where memory_fts match ? and {where}"
        else:
            sql += " where memory_fts match ?"
            params = []
            if not row_filter.include_superseded:
                sql += (
                    " and f.rowid not in (select rowid from memories"
                    f" where scope in ({marks(len(row_filter.scopes))}) and superseded_by is not null)"
                )
                params = list(row_filter.scopes)
        with self.lock:
            return [
                (int(rowid), float(rank))
                for rowid, rank in self.conn.execute(f"{sql} order by s limit ?", (match, *params, k))
            ]

    def admitted(self, rowids: Sequence[int], row_filter: RowFilter) -> set[int]:
        """Those of the rows that the filter admits (and that still exist)."""
        if not rowids:
            return set()
        where, params = where_clause(row_filter)
        with self.lock:
            return {
                row[0]
                for row in self.conn.execute(
                    f"select m.rowid from memories m where m.rowid in ({marks(len(rowids))}) and {where}",
                    (*rowids, *params),
                )
            }

    def share_of(self, scopes: Sequence[str]) -> float:
        """The share of all memories held by these scopes (1.0 before the vectors are loaded)."""
        with self.lock:
            return 1.0 if self.vectors is None else self.vectors.share_of(scopes)

    def document_count(self) -> int:
        with self.lock:
            return len(self._current_vectors())

    def similarities(self, vector: bytes, rowids: list[int], scopes: Sequence[str]) -> dict[int, float]:
        """Cosine similarity of the vector to each of these memories (of these scopes)."""
        index = self.current_vectors()
        nearest = index.nearest_among(vector, rowids, scopes, len(rowids))
        return {rowid: 1.0 - distance for rowid, distance in nearest}

    def evidence(self, rowids: list[int]) -> dict[int, tuple[str, str, str, float | None]]:
        """(content, tags, context, continuity) of each memory, as the full-text side matches
        them; continuity from the vector copy (sqlite-vec reads a vector by rowid slowly)."""
        with self.lock:
            found = text_index.evidence(self.conn, rowids)
            index = self._current_vectors() if self.embedding_dim is not None else None
        pairs = [(scope, rowid, before) for rowid, (*_, before, scope) in found.items() if before is not None]
        near = dict(zip(pairs, index.pair_cosines(pairs), strict=True)) if index is not None else {}
        return {
            rowid: (content, tags, context, near.get((scope, rowid, before)) if before is not None else None)
            for rowid, (content, tags, context, before, scope) in found.items()
        }

    def neighbours(self, rowids: list[int]) -> dict[int, Beside]:
        with self.lock:
            return text_index.neighbours(self.conn, rowids)
