"""The PostgreSQL store's reads and searches, as a base class of ``PostgresStore``.

The text side is the row's ``words`` (a tsvector of the content, its tags and the text of the
memory before it in its sitting, weighted A/B/C); the vector side is pgvector's cosine distance
over the row's ``embedding``. Nothing is cached in the process: every answer comes from the
database, so many servers on one database never read a stale copy.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from remembrancer.storage.postgres.connection import Connection, translated
from remembrancer.storage.rows import Beside, HistoryRow, Link, MemoryRow, Replaced, RowFilter
from remembrancer.storage.word_budget import affordable_words

MEMORY_COLUMNS = (
    "rowid, id, content, content_hash, scope, tags::text, metadata::text, created_at, updated_at,"
    " seen_count, last_seen_at, superseded_by, needs_review, context_rowid, occurred_at"
)
LINK_COLUMNS = "newer_rowid, older_rowid, change, guard::text, at"
#: Below this many memories in the scopes searched, every distance is computed (exact); above,
#: the HNSW index answers. At 100k memories here: exact 3 ms for 1k rows, 11-16 ms for 9-10k,
#: about 100 ms for 30k+; the index 10-12 ms for large scopes, 24-28 ms for 9-10k.
EXACT_BELOW = 15_000
#: Above this many memories, counts come from the planner's statistics (ANALYZE, run by
#: autovacuum) instead of a scan; below, a scan is cheap and exact.
ESTIMATE_ABOVE = 10_000


def where_clause(row_filter: RowFilter, alias: str = "m") -> tuple[str, list[Any]]:
    clauses, params = [f"{alias}.scope = any(%s)"], list[Any]([list(row_filter.scopes)])
    if row_filter.only == "superseded":
        clauses.append(f"{alias}.superseded_by is not null")
    elif not row_filter.include_superseded or row_filter.only == "review":
        clauses.append(f"{alias}.superseded_by is null")
    if row_filter.only == "review":
        clauses.append(f"{alias}.needs_review")
    if row_filter.since is not None:
        clauses.append(f"{alias}.occurred_at >= %s")
        params.append(row_filter.since)
    if row_filter.until is not None:
        clauses.append(f"{alias}.occurred_at <= %s")
        params.append(row_filter.until)
    if row_filter.tags:
        clauses.append(f"{alias}.tags @> %s::jsonb")
        params.append(json.dumps(list(row_filter.tags)))
    return " and ".join(clauses), params


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


class PostgresReads:
    conn: Connection
    lock: threading.RLock
    busy_timeout: float

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.lock, translated(self.busy_timeout):
            return list(self.conn.execute(sql, list(params)).fetchall())

    def _memories(self, where: str, params: Sequence[Any] = ()) -> list[MemoryRow]:
        return [
            MemoryRow.from_tuple(row)
            for row in self._rows(f"select {MEMORY_COLUMNS} from memories m {where}", params)
        ]

    def _has_table(self, name: str) -> bool:
        return bool(self._rows("select to_regclass(%s) is not null", [name])[0][0])

    def get_meta(self, key: str) -> str | None:
        if not self._has_table("meta"):  # opened without migrating, before the first use
            return None
        rows = self._rows("select value from meta where key = %s", [key])
        return None if not rows else str(rows[0][0])

    def schema_version(self) -> int:
        if not self._has_table("schema_migrations"):
            return 0
        return int(self._rows("select coalesce(max(version), 0) from schema_migrations")[0][0])

    def get_by_ids(self, ids: Sequence[str]) -> dict[str, MemoryRow]:
        return {row.id: row for row in self._memories("where id = any(%s)", [list(ids)])} if ids else {}

    def get_by_rowids(self, rowids: Sequence[int]) -> dict[int, MemoryRow]:
        return (
            {row.rowid: row for row in self._memories("where rowid = any(%s)", [list(rowids)])}
            if rowids
            else {}
        )

    def find_by_hash(self, scope: str, content_hash: str) -> MemoryRow | None:
        """A live memory with this text as its own, else one that folded it in as a wording: two
        indexed lookups (one query with OR read the whole table, 123 ms at 100k)."""
        found = self._memories(
            "where scope = %s and content_hash = %s and superseded_by is null order by rowid limit 1",
            [scope, content_hash],
        ) or self._memories(
            "where rowid = (select min(s.memory_rowid) from sightings s join memories w on w.rowid ="
            " s.memory_rowid where s.content_hash = %s and w.scope = %s and w.superseded_by is null)",
            [content_hash, scope],
        )
        return found[0] if found else None

    def newest_live(self, scope: str) -> int | None:
        found = self._rows(
            "select max(rowid) from memories where scope = %s and superseded_by is null", [scope]
        )
        return None if found[0][0] is None else int(found[0][0])

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        return {row[0] for row in self._rows("select id from memories where id = any(%s)", [list(ids)])}

    def is_live(self, rowid: int) -> bool:
        return bool(self._rows("select 1 from memories where rowid = %s and superseded_by is null", [rowid]))

    def list_rows(self, row_filter: RowFilter, limit: int, offset: int = 0) -> list[MemoryRow]:
        where, params = where_clause(row_filter)
        return self._memories(
            f"where {where} order by m.created_at desc, m.rowid desc limit %s offset %s",
            [*params, limit, offset],
        )

    def iter_rows(self, batch: int = 1000) -> Iterator[MemoryRow]:
        last = 0
        while rows := self._memories("where rowid > %s order by rowid limit %s", [last, batch]):
            yield from rows
            last = rows[-1].rowid

    def admitted(self, rowids: Sequence[int], row_filter: RowFilter) -> set[int]:
        if not rowids:
            return set()
        where, params = where_clause(row_filter)
        return {
            r[0]
            for r in self._rows(
                f"select m.rowid from memories m where m.rowid = any(%s) and {where}", [list(rowids), *params]
            )
        }

    def neighbours(self, rowids: list[int]) -> dict[int, Beside]:
        found = {rowid: Beside([], []) for rowid in rowids}
        for rowid, context in self._rows(
            "select rowid, context_rowid from memories where rowid = any(%s) or context_rowid = any(%s)",
            [list(rowids), list(rowids)],
        ):
            if rowid in found and context is not None:
                found[rowid].before.append(int(context))
            if context in found:
                found[context].after.append(int(rowid))
        return found

    def event_times(self, rowids: Sequence[int]) -> dict[int, str]:
        rows = self._rows("select rowid, occurred_at from memories where rowid = any(%s)", [list(rowids)])
        return {int(rowid): str(at) for rowid, at in rows if at is not None}

    def scope_counts(self) -> dict[str, int]:
        return dict(self._rows("select scope, count(*) from memories group by scope order by scope"))

    def scope_exists(self, scope: str) -> bool:
        return bool(self._rows("select 1 from memories where scope = %s limit 1", [scope]))

    def counts(self) -> dict[str, int]:
        memories, history, vectors = self._rows(
            "select (select count(*) from memories), (select count(*) from history),"
            " (select count(*) from memory_vectors)"
        )[0]
        return {"memories": memories, "history": history, "vectors": vectors}

    def pending_review(self, limit: int) -> list[MemoryRow]:
        return self._memories("where needs_review and superseded_by is null order by rowid limit %s", [limit])

    def count_pending_review(self) -> int:
        return int(
            self._rows("select count(*) from memories where needs_review and superseded_by is null")[0][0]
        )

    def history(self, memory_id: str | None = None, limit: int = 100) -> list[HistoryRow]:
        columns = "id, memory_id, event, at, actor, details::text"
        if memory_id is None:
            rows = self._rows(f"select {columns} from history order by id desc limit %s", [limit])
        else:
            rows = self._rows(
                f"select {columns} from history where memory_id = %s order by id limit %s", [memory_id, limit]
            )
        return [HistoryRow(*row) for row in rows]

    def history_event(self, event_id: int) -> HistoryRow | None:
        rows = self._rows(
            "select id, memory_id, event, at, actor, details::text from history where id = %s", [event_id]
        )
        return HistoryRow(*rows[0]) if rows else None

    def was_reverted(self, event_id: int) -> bool:
        return bool(
            self._rows(
                "select 1 from history where event = 'reverted' and details->>'event' = %s", [str(event_id)]
            )
        )

    def sightings(self, rowid: int) -> list[tuple[str, dict[str, Any], str | None]]:
        rows = self._rows(
            "select seen_at, metadata::text, content from sightings where memory_rowid = %s order by seen_at",
            [rowid],
        )
        return [(seen_at, json.loads(metadata), content) for seen_at, metadata, content in rows]

    def _links(self, where: str, params: Sequence[Any]) -> list[Link]:
        links = []
        for newer, older, change, guard, at in self._rows(
            f"select {LINK_COLUMNS} from memory_links {where}", params
        ):
            words = json.loads(guard)
            links.append(Link(newer, older, change, tuple(words["any"]), tuple(words["pair"]), at))
        return links

    def newer_links(self, older: int) -> list[Link]:
        return self._links("where older_rowid = %s", [older])

    def links_touching(self, rowids: Sequence[int]) -> list[Link]:
        return self._links(
            "where newer_rowid = any(%s) or older_rowid = any(%s)", [list(rowids), list(rowids)]
        )

    def replaced_by(self, ids: Sequence[str]) -> list[Replaced]:
        rows = self._rows(
            "select id, created_at, superseded_by from memories where superseded_by = any(%s) order"
            " by created_at",
            [list(ids)],
        )
        return [Replaced(*row) for row in rows]

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

    def evidence(self, rowids: list[int]) -> dict[int, tuple[str, str, str]]:
        rows = self._rows(
            "select rowid, content, tags::text, context from memories where rowid = any(%s)", [rowids]
        )
        return {int(rowid): (content, tags, context) for rowid, content, tags, context in rows}

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

    def similarities(self, vector: bytes, rowids: list[int]) -> dict[int, float]:
        rows = self._rows(
            "select rowid, 1 - (embedding <=> %s) from memory_vectors where rowid = any(%s)",
            [as_vector(vector), rowids],
        )
        return {int(rowid): float(similarity) for rowid, similarity in rows}

    def warm_up(self) -> None:
        """Nothing is kept in memory: the database searches its own index."""
