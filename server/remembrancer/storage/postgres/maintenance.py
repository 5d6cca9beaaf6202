"""Looking after a PostgreSQL store: every memory against its vector, the repair that embeds
what lacks one, and why a backup is the server's own tool's job."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from remembrancer.errors import StoreError
from remembrancer.storage.postgres.reads import as_vector
from remembrancer.storage.postgres.store import PostgresStore
from remembrancer.storage.rows import IntegrityReport


def check(store: PostgresStore) -> IntegrityReport:
    """The full-text words are a generated column and links and sightings cascade with their
    memory, so what can go missing is a memory's vector."""
    rows = store._rows("select rowid, embedding is null from memories order by rowid")
    return IntegrityReport(
        memories=len(rows),
        missing_vectors=[int(rowid) for rowid, missing in rows if missing],
    )


def repair(store: PostgresStore, embed: Callable[[Sequence[str]], list[bytes]]) -> IntegrityReport:
    missing = store.get_by_rowids(check(store).missing_vectors)
    vectors = embed([row.content for row in missing.values()]) if missing else []
    with store.transaction():
        for row, vector in zip(missing.values(), vectors, strict=True):
            store._execute(
                "update memories set embedding = %s where rowid = %s", [as_vector(vector), row.rowid]
            )
    return check(store)


def backup(store: PostgresStore, target: Path) -> int:
    raise StoreError(
        f"backup copies a SQLite file; {store.path} is a PostgreSQL database: back it up with "
        f"pg_dump (e.g. `pg_dump --format=custom --file={target} DBNAME`) or your server's backups."
    )
