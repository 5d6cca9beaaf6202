"""The PostgreSQL store's searches, as a base class of ``PostgresStore``: the text side over
each row's ``words`` (a tsvector of the content, its tags and the text of the memory before it in
its sitting, weighted A/B/C), and the vector side, pgvector's cosine distance over
``memory_vectors``. Nothing is cached in the process: every answer comes from the database, so
many servers on one database never read a stale copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from remembrancer.storage.postgres.reads import PostgresReads, where_clause
from remembrancer.storage.rows import RowFilter
from remembrancer.storage.word_budget import affordable_words

#: Below this many memories in the scopes searched, every distance is computed (exact); above,
#: the HNSW index answers. At 100k memories here: exact 3 ms for 1k rows, 11-16 ms for 9-10k,
#: about 100 ms for 30k+; the index 10-12 ms for large scopes, 24-28 ms for 9-10k.
EXACT_BELOW = 15_000
#: Above this many memories, counts come from the planner's statistics (ANALYZE, run by
#: autovacuum) instead of a scan; below, a scan is cheap and exact.
ESTIMATE_ABOVE = 10_000
#: How many (memory, word) matches a recall's full-text query may make ts_rank score, as
#: storage.word_budget explains: ts_rank reads each matching row (at 100k memories here, 2.2k
#: matches took 13 ms and 8.9k took 75 ms). Over bench/scale.py's queries at 100k, a budget of
#: 3,000 took 25.9 ms p50 (p95 75.8), 1,000 took 13.2 (39.6), and paraphrases of stored
#: sentences found in the top 5 went 138 -> 137 of 150.
RANKED_BUDGET = 1_000
#: Per word: its share of memories among ANALYZE's most common lexemes (read once) times the
#: planner's row count, once the store has ESTIMATE_ABOVE rows; else counted through the index.
WORD_FREQUENCIES = """
with total as (select reltuples as n from pg_class where oid = 'memories'::regclass),
common as materialized (
    select e.v, e.f
    from pg_stats s, unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) as e(v, f)
    where s.schemaname = current_schema() and s.tablename = 'memories' and s.attname = 'words'
        and (select n from total) >= %s
)
select w, coalesce(
    (select round(c.f * (select n from total)) from common c where c.v = (
        select string_agg(l, ' ') from unnest(tsvector_to_array(to_tsvector('english', w))) as l)),
    (select count(*) from memories where words @@ plainto_tsquery('english', w))
)
from unnest(%s::text[]) as w
"""
#: The vector side's filter when it is the scopes alone (``where_clause`` of a plain RowFilter).
SCOPE_ONLY = "m.scope = any(%s)"
#: A vector's memory, for filters on more than its scope.
JOIN = "join memories m on m.rowid = v.rowid"


def as_vector(vector: bytes) -> np.ndarray[Any, Any]:
    return np.frombuffer(vector, dtype=np.float32)


class PostgresSearch(PostgresReads):
    # -- the text side ------------------------------------------------------------------

    def word_frequencies(self, words: list[str]) -> dict[str, int]:
        """How many memories hold each word, in one statement: from the planner's statistics for
        common words once the store is large (ANALYZE keeps each frequent lexeme's share of rows),
        counted through the text index for the rest, which are rare and so cheap to count.
        Counting every word took 33 ms for 4 words at 100k; reading the statistics once per word,
        7 ms."""
        return {
            str(word): int(count)
            for word, count in self._rows(
                WORD_FREQUENCIES,
                [ESTIMATE_ABOVE, list(words)],
            )
        }

    def document_count(self) -> int:
        """Estimated from the planner's statistics once the store is large (an exact count reads
        every row: 118 ms at 100k); the relevance weights it feeds need no more."""
        estimate = self._estimated_rows()
        if estimate >= ESTIMATE_ABOVE:
            return round(estimate)
        return int(self._rows("select count(*) from memory_vectors")[0][0])

    def _scope_share(self, scopes: Sequence[str]) -> float:
        """The share of all memories these scopes hold (1.0 while that is unknown)."""
        total, share = self._scope_statistics(scopes, self._rows)
        return 1.0 if total <= 0 else min(1.0, share)

    def _estimated_rows(self) -> float:
        """The planner's row count of memories (-1 before the first ANALYZE)."""
        return float(self._rows("select reltuples from pg_class where oid = 'memories'::regclass")[0][0])

    def full_text(
        self, words: Sequence[str], row_filter: RowFilter, k: int, frequency: Mapping[str, int] | None = None
    ) -> list[tuple[int, float]]:
        if frequency is not None and sum(frequency.get(word, 0) for word in words) > RANKED_BUDGET:
            share = self._scope_share(row_filter.scopes)
            words = affordable_words(words, frequency, share, RANKED_BUDGET)
        if not words:
            return []
        query = " || ".join(["plainto_tsquery('english', %s)"] * len(words))
        where, params = where_clause(row_filter)
        return [
            (int(rowid), float(rank))
            for rowid, rank in self._rows(
                f"select m.rowid, ts_rank(m.words, q) as r from memories m, (select {query}) as t(q)"
                f" where m.words @@ q and {where} order by r desc, m.rowid limit %s",
                [*words, *params, k],
            )
        ]

    def evidence(self, rowids: list[int]) -> dict[int, tuple[str, str, str, float | None]]:
        rows = self._rows(
            "select m.rowid, m.content, m.tags::text, m.context, 1 - (v.embedding <=> c.embedding)"
            " from memories m left join memory_vectors v on v.rowid = m.rowid"
            " left join memory_vectors c on c.rowid = m.context_rowid where m.rowid = any(%s)",
            [rowids],
        )
        return {
            int(rowid): (content, tags, context, None if near is None else float(near))
            for rowid, content, tags, context, near in rows
        }

    # -- the vector side ----------------------------------------------------------------

    def _nearest(
        self,
        vector: bytes,
        where: str,
        params: Sequence[Any],
        k: int,
        run: Callable[[str, Sequence[Any]], list[Any]] | None = None,
        scopes: Sequence[str] | None = None,
    ) -> list[tuple[int, float]]:
        """The k nearest, exactly among few memories, through the HNSW index among many: a scan
        of the index filtered to a small scope wanders far for few rows (165 ms and recall 0.79
        for 1k rows among 100k here), while computing every distance of 10k rows takes 16 ms."""
        run = run or self._rows
        target = as_vector(vector)
        if scopes is None or self._rows_in(scopes, run) < EXACT_BELOW:
            # "+ 0": an order the index cannot give, so every distance is computed.
            order = "order by (v.embedding <=> %s) + 0, v.rowid limit %s"
            # The scopes alone are a column of the vectors' table; other filters join the memory.
            scoped = "where v.scope = any(%s)" if where == SCOPE_ONLY else f"{JOIN} and {where}"
            candidates = f"from memory_vectors v {scoped}"
            rows = run(
                f"select v.rowid, v.embedding <=> %s as d {candidates} {order}", [target, *params, target, k]
            )
        else:  # filters the index scan applies as it goes (an iterative scan)
            joined, joined_params = ("", []) if where == SCOPE_ONLY else (f" {JOIN} and {where}", params)
            nearest = (
                f"select v.rowid, v.embedding <=> %s as d from memory_vectors v{joined}"
                " where v.scope = any(%s) order by v.embedding <=> %s limit %s"
            )
            rows = run(
                f"select rowid, d from ({nearest}) found order by d, rowid",
                [target, *joined_params, list(scopes), target, k],
            )
        return [(int(rowid), float(distance)) for rowid, distance in rows]

    def _rows_in(self, scopes: Sequence[str], run: Callable[[str, Sequence[Any]], list[Any]]) -> float:
        """How many memories the scopes hold, from the planner's statistics (kept by autovacuum's
        ANALYZE; a scope too small to be among its most common values counts as none). Counted
        outright before the table has statistics."""
        total, share = self._scope_statistics(scopes, run)
        if total < 0:
            return float(run("select count(*) from memories where scope = any(%s)", [list(scopes)])[0][0])
        return total * share

    @staticmethod
    def _scope_statistics(
        scopes: Sequence[str], run: Callable[[str, Sequence[Any]], list[Any]]
    ) -> tuple[float, float]:
        """The planner's row count of memories (-1 before the first ANALYZE) and the scopes'
        share of it among the most common values (0 for a scope too small to be one)."""
        found = run(
            "select c.reltuples, (select sum(f) from unnest(s.most_common_vals::text::text[],"
            " s.most_common_freqs) as t(v, f) where v = any(%s)) from pg_class c left join pg_stats s"
            " on s.schemaname = current_schema() and s.tablename = 'memories' and s.attname = 'scope'"
            " where c.oid = 'memories'::regclass",
            [list(scopes)],
        )
        total, share = found[0]
        return (-1.0 if total is None else float(total)), float(share or 0.0)

    def nearest(self, vector: bytes, scopes: Sequence[str], k: int) -> list[tuple[int, float]]:
        return self._nearest(vector, SCOPE_ONLY, [list(scopes)], k, scopes=scopes)

    def nearest_filtered(self, vector: bytes, row_filter: RowFilter, k: int) -> list[tuple[int, float]]:
        """Exact: tags and times narrow the scopes further than an index scan can follow."""
        where, params = where_clause(row_filter)
        return self._nearest(
            vector, where, params, k, scopes=None if row_filter.narrows else row_filter.scopes
        )

    def similarities(self, vector: bytes, rowids: list[int], scopes: Sequence[str]) -> dict[int, float]:
        """Cosine similarity of the vector to each of these memories (found by key: the scopes,
        which the in-memory copy of SQLite needs, tell the database nothing more)."""
        rows = self._rows(
            "select rowid, 1 - (embedding <=> %s) from memory_vectors where rowid = any(%s)",
            [as_vector(vector), rowids],
        )
        return {int(rowid): float(similarity) for rowid, similarity in rows}

    def warm_up(self) -> None:
        """Nothing is kept in memory: the database searches its own index."""
