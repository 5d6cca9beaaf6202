"""Looking after a PostgreSQL store: every memory against its vector, the repair that embeds
what lacks one, and why a backup is the server's own tool's job."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from remembrancer.errors import StoreError
from remembrancer.storage.postgres.migrations import LATEST_VERSION, VECTOR_INDEX
from remembrancer.storage.postgres.store import PostgresStore
from remembrancer.storage.rows import IntegrityReport

#: pgvector's iterative index scans (0.8.0) keep a scope-filtered search from losing memories.
MIN_PGVECTOR = (0, 8, 0)
#: The oldest server pgvector 0.8 supports.
MIN_SERVER = 130000


def check(store: PostgresStore) -> IntegrityReport:
    """The server, the extension and the schema; then the rows. The full-text words are a
    generated column and links and sightings cascade with their memory, so what can go missing
    is a memory's vector (or the index over them)."""
    if store.schema_version() < LATEST_VERSION:  # its rows are checked once a command upgrades it
        rows = store._rows("select rowid, false from memories order by rowid")
    else:
        rows = store._rows(
            "select m.rowid, v.rowid is null from memories m left join memory_vectors v on v.rowid = m.rowid"
            " order by m.rowid"
        )
    return IntegrityReport(
        engine="; ".join(_server_problems(store)) or "ok",
        memories=len(rows),
        missing_vectors=[int(rowid) for rowid, missing in rows if missing],
    )


def _server_problems(store: PostgresStore) -> list[str]:
    (number, version, vector, indexed), *_ = store._rows(
        "select current_setting('server_version_num')::int, current_setting('server_version'),"
        " (select extversion from pg_extension where extname = 'vector'), to_regclass(%s) is not null",
        [VECTOR_INDEX],
    )
    problems = []
    if number < MIN_SERVER:
        problems.append(
            f"PostgreSQL {version} is older than 13, the oldest pgvector 0.8 supports; upgrade it"
        )
    if vector is None:
        problems.append("the pgvector extension is missing (`create extension vector` as a superuser)")
    elif tuple(int(part) for part in vector.split(".")[:3] if part.isdigit()) < MIN_PGVECTOR:
        problems.append(
            f"pgvector {vector} lacks the iterative index scans of 0.8.0 that a search of one scope"
            " needs; run `alter extension vector update` after installing a newer pgvector"
        )
    schema = store.schema_version()
    if schema < LATEST_VERSION:
        problems.append(
            f"schema {schema} of {LATEST_VERSION}: any `remembrancer` command brings it up to date"
        )
    elif schema > LATEST_VERSION:
        problems.append(
            f"schema {schema} is newer than this remembrancer knows ({LATEST_VERSION}); upgrade it"
        )
    if store.get_meta("embedding_model") is not None and not indexed:
        problems.append("the vector index is missing; `remembrancer doctor --repair` builds it")
    return problems


def repair(store: PostgresStore, embed: Callable[[Sequence[str]], list[bytes]]) -> IntegrityReport:
    missing = store.get_by_rowids(check(store).missing_vectors)
    vectors = embed([row.content for row in missing.values()]) if missing else []
    with store.transaction():
        for row, vector in zip(missing.values(), vectors, strict=True):
            store.put_vector(row.rowid, row.scope, vector)
        if store.get_meta("embedding_model") is not None:
            store.index_vectors()
    return check(store)


def backup(store: PostgresStore, target: Path) -> int:
    raise StoreError(
        f"backup copies a SQLite file; {store.path} is a PostgreSQL database: back it up with "
        f"pg_dump (e.g. `pg_dump --format=custom --file={target} DBNAME`) or your server's backups."
    )
