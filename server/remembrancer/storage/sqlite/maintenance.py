"""Looking after a store: SQLite's own check, then every memory against its vector and its
full-text entry; the repair that rebuilds what is derived from the memory rows; backups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import sqlean

from remembrancer.errors import StoreError
from remembrancer.storage.rows import IntegrityReport
from remembrancer.storage.sqlite.store import Store


def check(store: Store, quick: bool = True) -> IntegrityReport:
    report = IntegrityReport()
    with store.lock:
        conn = store.conn
        pragma = "quick_check" if quick else "integrity_check"
        problems = [row[0] for row in conn.execute(f"pragma {pragma}")]
        report.engine = "ok" if problems == ["ok"] else "; ".join(problems[:5])
        rows = {row[0] for row in conn.execute("select rowid from memories")}
        vectors = {row[0] for row in conn.execute("select rowid from memory_vectors")}
        texts = {row[0] for row in conn.execute("select rowid from memory_fts")}
        try:
            conn.execute("insert into memory_fts(memory_fts, rank) values ('integrity-check', 1)")
        except Exception as exc:  # the index reports corruption as an error
            report.text_index = str(exc)
    report.memories = len(rows)
    report.missing_vectors = sorted(rows - vectors)
    report.orphan_vectors = sorted(vectors - rows)
    report.missing_text = sorted(rows - texts)
    report.orphan_text = sorted(texts - rows)
    return report


def repair(store: Store, embed: Callable[[Sequence[str]], list[bytes]]) -> IntegrityReport:
    """Re-embed memories without a vector, drop orphan vectors, and rebuild the full-text index."""
    before = check(store)
    missing = store.get_by_rowids(before.missing_vectors) if before.missing_vectors else {}
    vectors = embed([row.content for row in missing.values()]) if missing else []
    with store.transaction():
        store.drop_vectors(before.orphan_vectors)
        store.put_vectors([(row, vector) for row, vector in zip(missing.values(), vectors, strict=True)])
        store.rebuild_text_index()
    store.checkpoint()
    return check(store)


def backup(store: Store, target: Path) -> int:
    """Copy the database with SQLite's online backup: consistent while others write."""
    if target.exists():
        raise StoreError(f"{target} already exists; a backup never overwrites a file. Choose a new path.")
    destination = sqlean.connect(str(target))
    try:
        with store.lock:
            store.conn.backup(destination, pages=1024)
        pages = int(destination.execute("pragma page_count").fetchone()[0])
    except BaseException:
        destination.close()
        target.unlink(missing_ok=True)
        raise
    destination.close()
    return pages
