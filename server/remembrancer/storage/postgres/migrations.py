"""Append-only, numbered schema steps for PostgreSQL; each runs in one transaction with its record,
under an advisory lock, so servers starting together on one database apply each step once.

Never edit a step that has shipped: add a new one. Times are the same UTC ISO 8601 text the
SQLite engine stores (they sort as text), so rows read the same from either engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from remembrancer.errors import StoreError

Connection = Any  # psycopg.Connection in autocommit mode

#: pg_advisory_xact_lock key for schema changes ("remembrancer schema").
SCHEMA_LOCK = 0x72656D5F73636801


def _001_core_tables(conn: Connection) -> None:
    conn.execute("create extension if not exists vector")
    conn.execute(
        """
        create table memories (
            rowid bigint generated always as identity primary key,
            id text not null unique,
            content text not null,
            content_hash text not null,
            scope text not null,
            tags jsonb not null default '[]',
            metadata jsonb not null default '{}',
            created_at text not null,
            updated_at text not null,
            seen_count integer not null default 1,
            last_seen_at text,
            superseded_by text,
            superseded_at text,
            needs_review boolean not null default false,
            context_rowid bigint,
            occurred_at text,
            context text not null default '',
            embedding vector,
            words tsvector generated always as (
                setweight(to_tsvector('english', content), 'A')
                || setweight(to_tsvector('english', tags::text), 'B')
                || setweight(to_tsvector('english', context), 'C')
            ) stored
        )
        """
    )
    conn.execute("create index memories_scope_hash on memories(scope, content_hash)")
    conn.execute("create index memories_by_context on memories(context_rowid)")
    conn.execute("create index memories_by_scope_and_event_time on memories(scope, occurred_at)")
    conn.execute("create index memories_words on memories using gin (words)")
    conn.execute("create index memories_tags on memories using gin (tags)")
    conn.execute(
        "create index memories_by_superseder on memories(superseded_by) where superseded_by is not null"
    )
    conn.execute("create index memories_needing_review on memories(needs_review) where needs_review")
    conn.execute(
        """
        create table sightings (
            memory_rowid bigint not null references memories(rowid) on delete cascade,
            seen_at text not null,
            metadata jsonb not null default '{}',
            content text,
            content_hash text
        )
        """
    )
    conn.execute("create index sightings_by_memory on sightings(memory_rowid)")
    conn.execute("create index sightings_by_hash on sightings(content_hash) where content_hash is not null")
    conn.execute(
        """
        create table history (
            id bigint generated always as identity primary key,
            memory_id text not null,
            event text not null,
            at text not null,
            actor text not null,
            details jsonb not null default '{}'
        )
        """
    )
    conn.execute("create index history_by_memory on history(memory_id)")
    conn.execute(
        """
        create table memory_links (
            newer_rowid bigint not null references memories(rowid) on delete cascade,
            older_rowid bigint not null references memories(rowid) on delete cascade,
            change text not null,
            guard jsonb not null,
            at text not null,
            primary key (newer_rowid, older_rowid)
        )
        """
    )
    conn.execute("create index memory_links_by_older on memory_links(older_rowid)")
    conn.execute("create table meta (key text primary key, value text not null)")


def _002_vector_index(conn: Connection) -> None:
    """An HNSW index over the vectors, once they have a dimension (a store bound to its model)."""
    sized = conn.execute(
        "select atttypmod > 0 from pg_attribute"
        " where attrelid = 'memories'::regclass and attname = 'embedding'"
    ).fetchone()[0]
    if sized:  # built in memory: several times faster than a build that spills to disk
        conn.execute("set local maintenance_work_mem = '512MB'")
        conn.execute(
            "create index if not exists memories_embedding_hnsw on memories"
            " using hnsw (embedding vector_cosine_ops)"
        )


#: The HNSW index over memory_vectors.embedding, made when the store is bound to a model.
VECTOR_INDEX = "memory_vectors_hnsw"


def _003_live_by_scope(conn: Connection) -> None:
    """The newest live memory of a scope (a new memory's sitting) in one probe, with or without
    statistics; without it a store just filled read the whole scope for every insert."""
    conn.execute(
        "create index if not exists memories_live_by_scope on memories(scope, rowid)"
        " where superseded_by is null"
    )


def _004_vectors_apart(conn: Connection) -> None:
    """The vectors in a table of their own. A forget rewrites the tables that held the text
    (``VACUUM FULL``, under a lock every other server waits for); with the vectors and their
    HNSW index in the memory row, that rewrite took about 3 minutes at 100k memories, and 5 s
    without them. The vectors hold no text, and their table is never rewritten."""
    column_type = conn.execute(
        "select format_type(atttypid, atttypmod) from pg_attribute"
        " where attrelid = 'memories'::regclass and attname = 'embedding'"
    ).fetchone()[0]
    conn.execute(
        f"""
        create table memory_vectors (
            rowid bigint primary key references memories(rowid) on delete cascade,
            scope text not null,
            embedding {column_type} not null
        )
        """
    )
    conn.execute(
        "insert into memory_vectors(rowid, scope, embedding)"
        " select rowid, scope, embedding from memories where embedding is not null"
    )
    conn.execute("create index memory_vectors_by_scope on memory_vectors(scope)")
    conn.execute("drop index if exists memories_embedding_hnsw")
    conn.execute("alter table memories drop column embedding")
    if column_type != "vector":  # bound to a model: sized, so it can be indexed
        conn.execute("set local maintenance_work_mem = '512MB'")
        conn.execute(
            f"create index {VECTOR_INDEX} on memory_vectors using hnsw (embedding vector_cosine_ops)"
        )
    conn.execute("analyze memory_vectors")


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "core tables, full-text words and vectors in the memory row", _001_core_tables),
    (2, "an HNSW index over the vectors", _002_vector_index),
    (3, "the live memories of a scope in key order", _003_live_by_scope),
    (4, "the vectors in a table of their own, apart from the text a forget rewrites", _004_vectors_apart),
]
LATEST_VERSION = MIGRATIONS[-1][0]


def migrate(conn: Connection, now: str) -> list[int]:
    """Apply the steps this database lacks; the numbers of those applied."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        conn.execute(
            "create table if not exists schema_migrations"
            " (version integer primary key, name text not null, applied_at text not null)"
        )
        done = {row[0] for row in conn.execute("select version from schema_migrations")}
        newer = max(done, default=0)
        if newer > LATEST_VERSION:
            raise StoreError(
                f"this database has schema version {newer}, newer than this remembrancer knows "
                f"({LATEST_VERSION}); upgrade remembrancer."
            )
        for version, name, step in MIGRATIONS:
            if version not in done:
                with conn.transaction():
                    step(conn)
                    conn.execute(
                        "insert into schema_migrations(version, name, applied_at) values (%s, %s, %s)",
                        (version, name, now),
                    )
                applied.append(version)
    return applied
