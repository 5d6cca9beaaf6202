"""Append-only, numbered schema steps; each is applied in one transaction with its record.

Never edit a step that has shipped: add a new one. The vector table is not here because its
dimension depends on the embedding model; ``store.py`` creates it when the model is known.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

Connection = Any  # sqlean.Connection or sqlite3.Connection; both speak DB-API


def _001_core_tables(conn: Connection) -> None:
    # autoincrement: a rowid is never reused, so a rowid read before a transaction can never
    # point at another memory (and its vector and index entry) inside it.
    conn.execute(
        """
        create table memories (
            rowid integer primary key autoincrement,
            id text not null unique,
            content text not null,
            content_hash text not null,
            scope text not null,
            tags text not null default '[]',
            metadata text not null default '{}',
            created_at text not null,
            updated_at text not null,
            seen_count integer not null default 1,
            last_seen_at text,
            context_rowid integer
        )
        """
    )
    conn.execute("create index memories_scope_hash on memories(scope, content_hash)")
    conn.execute("create index memories_scope_created on memories(scope, created_at)")
    conn.execute("create index memories_by_context on memories(context_rowid)")
    conn.execute(
        """
        create table memory_tags (
            memory_rowid integer not null references memories(rowid) on delete cascade,
            tag text not null,
            primary key (tag, memory_rowid)
        ) without rowid
        """
    )
    conn.execute("create index memory_tags_by_memory on memory_tags(memory_rowid)")
    conn.execute(
        """
        create table sightings (
            memory_rowid integer not null references memories(rowid) on delete cascade,
            seen_at text not null,
            metadata text not null default '{}',
            content text
        )
        """
    )
    conn.execute("create index sightings_by_memory on sightings(memory_rowid)")
    conn.execute(
        """
        create table history (
            id integer primary key,
            memory_id text not null,
            event text not null,
            at text not null,
            actor text not null,
            details text not null default '{}'
        )
        """
    )
    conn.execute("create index history_by_memory on history(memory_id)")
    conn.execute("create table meta (key text primary key, value text not null)")
    # The index keeps its own copy of each row (content, tags, and the text of the memory
    # stored just before in the same sitting, as context), so a row can be deleted or updated
    # by rowid alone. secure-delete makes a delete rewrite the index leaves at once, so
    # forgotten words leave no trace in FTS segments (contentless tables ignore it).
    conn.execute(
        """
        create virtual table memory_fts using fts5(
            content, tags, context,
            tokenize='porter unicode61 remove_diacritics 2'
        )
        """
    )
    conn.execute("insert into memory_fts(memory_fts, rank) values('secure-delete', 1)")


def _002_supersede_and_review(conn: Connection) -> None:
    # A superseded memory stays (reversible) but leaves recall; needs_review marks a memory
    # stored by the fallback while the LLM judge was unreachable.
    conn.execute("alter table memories add column superseded_by text")
    conn.execute("alter table memories add column superseded_at text")
    conn.execute("alter table memories add column needs_review integer not null default 0")
    conn.execute("create index memories_needing_review on memories(needs_review) where needs_review = 1")


def _003_vector_log(conn: Connection) -> None:
    # Every vector change, so other processes can bring their in-memory copies up to date.
    conn.execute(
        "create table vector_log"
        " (seq integer primary key autoincrement, rowid integer not null, op text not null)"
    )


def _004_live_rows_by_scope(conn: Connection) -> None:
    # The last live memory of a scope (a new memory's context) without scanning the scope.
    conn.execute("create index memories_live_by_scope on memories(scope, superseded_by)")


def _005_text_vocabulary(conn: Connection) -> None:
    # How many memories hold each indexed term, to leave very common words out of queries.
    conn.execute("create virtual table memory_fts_vocab using fts5vocab(memory_fts, 'row')")


def _scope_token_as_of_006(scope: str) -> str:
    """The scope token as step 6 wrote it; frozen here, so a later change to the live one
    (text_index.scope_token) needs a new step instead of changing what this one did."""
    digest = hashlib.sha256(scope.encode("utf-8")).digest()[:12]
    return f"{int.from_bytes(digest, 'big'):029d}"


def _006_scope_in_text_index(conn: Connection) -> None:
    # The scope as a token in each full-text row, so MATCH itself keeps a query to its scopes
    # (text_index.scope_token, frozen above). FTS5 cannot add a column: build a new table and swap it in.
    conn.create_function("scope_token", 1, _scope_token_as_of_006, deterministic=True)
    conn.execute(
        """
        create virtual table memory_fts_new using fts5(
            content, tags, context, scope,
            tokenize='porter unicode61 remove_diacritics 2'
        )
        """
    )
    conn.execute("insert into memory_fts_new(memory_fts_new, rank) values('secure-delete', 1)")
    conn.execute(
        "insert into memory_fts_new(rowid, content, tags, context, scope)"
        " select f.rowid, f.content, f.tags, f.context, scope_token(m.scope)"
        " from memory_fts f join memories m on m.rowid = f.rowid"
    )
    conn.execute("drop table memory_fts_vocab")
    conn.execute("drop table memory_fts")
    conn.execute("alter table memory_fts_new rename to memory_fts")
    conn.execute("create virtual table memory_fts_vocab using fts5vocab(memory_fts, 'row')")


def _frozen_hash_v1(content: str) -> str:
    # validation.content_hash as of migration 7, copied so later changes cannot alter this step.
    import hashlib
    import re
    import unicodedata

    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", content)).strip().casefold()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _007_changed_facts(conn: Connection) -> None:
    # A newer memory that states a changed value of an older one, both kept live: recall puts
    # the newer first. ``guard`` holds the older's own words ({"any": [...], "pair": [...]}): a
    # query naming one of the first, or two of the second, asks about the older fact itself.
    conn.execute(
        """
        create table memory_links (
            newer_rowid integer not null references memories(rowid) on delete cascade,
            older_rowid integer not null references memories(rowid) on delete cascade,
            change text not null,
            guard text not null,
            at text not null,
            primary key (newer_rowid, older_rowid)
        ) without rowid
        """
    )
    conn.execute("create index memory_links_by_older on memory_links(older_rowid)")
    conn.execute(
        "create index memories_by_superseder on memories(superseded_by) where superseded_by is not null"
    )
    # A folded wording is recognised by its hash, like a memory's own text.
    conn.execute("alter table sightings add column content_hash text")
    conn.create_function("frozen_hash_v1", 1, _frozen_hash_v1, deterministic=True)
    conn.execute("update sightings set content_hash = frozen_hash_v1(content) where content is not null")
    conn.execute("create index sightings_by_hash on sightings(content_hash) where content_hash is not null")


def _008_event_time(conn: Connection) -> None:
    """When a memory happened, apart from when it was stored; until now the same."""
    conn.execute("alter table memories add column occurred_at text")
    conn.execute("update memories set occurred_at = created_at")
    conn.execute("create index memories_by_scope_and_event_time on memories(scope, occurred_at)")


def _009_browser_counts(conn: Connection) -> None:
    """The memory browser's stats page counts memories per scope and month, and history events
    per kind: indexes it can count from (at 100k memories, 97 -> 21 ms and 50 -> 12 ms)."""
    conn.execute("create index memories_by_scope_and_month on memories(scope, substr(created_at, 1, 7))")
    conn.execute("create index history_by_event on history(event)")


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "core tables", _001_core_tables),
    (2, "supersede and review", _002_supersede_and_review),
    (3, "vector log", _003_vector_log),
    (4, "live rows by scope", _004_live_rows_by_scope),
    (5, "text vocabulary", _005_text_vocabulary),
    (6, "scope in the text index", _006_scope_in_text_index),
    (7, "changed facts and folded wordings", _007_changed_facts),
    (8, "event time", _008_event_time),
    (9, "browser counts", _009_browser_counts),
]

LATEST_VERSION = MIGRATIONS[-1][0]


def applied_versions(conn: Connection) -> set[int]:
    conn.execute(
        "create table if not exists schema_migrations"
        " (version integer primary key, name text, applied_at text)"
    )
    return {row[0] for row in conn.execute("select version from schema_migrations")}


def migrate(conn: Connection, now: str) -> list[int]:
    """Apply every missing step in order; returns the versions applied."""
    done = applied_versions(conn)
    applied = []
    for version, name, step in MIGRATIONS:
        if version in done:
            continue
        conn.execute("begin immediate")
        try:
            # Another process may have applied it while we waited for the write lock.
            if conn.execute("select 1 from schema_migrations where version = ?", (version,)).fetchone():
                conn.execute("commit")
                continue
            step(conn)
            conn.execute(
                "insert into schema_migrations(version, name, applied_at) values (?, ?, ?)",
                (version, name, now),
            )
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
        applied.append(version)
    return applied
