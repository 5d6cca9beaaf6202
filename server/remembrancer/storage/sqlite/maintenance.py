"""Looking after a store: SQLite's own check, then every memory against its vector and its
full-text entry; the repair that rebuilds what is derived from the memory rows; backups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlean

from remembrancer.errors import StoreError
from remembrancer.storage.sqlite.store import Store


@dataclass
class IntegrityReport:
    sqlite: str = "ok"
    memories: int = 0
    missing_vectors: list[int] = field(default_factory=list)
    orphan_vectors: list[int] = field(default_factory=list)
    missing_text: list[int] = field(default_factory=list)
    orphan_text: list[int] = field(default_factory=list)
    text_index: str = "ok"

    @property
    def ok(self) -> bool:
        return (
            self.sqlite == "ok"
            and self.text_index == "ok"
            and not (self.missing_vectors or self.orphan_vectors or self.missing_text or self.orphan_text)
        )

    def summary(self) -> str:
        if self.ok:
            return f"{self.memories} memories, each with its vector and full-text entry"
        parts = [
            f"SQLite: {self.sqlite}" if self.sqlite != "ok" else "",
            f"full-text index: {self.text_index}" if self.text_index != "ok" else "",
            f"{len(self.missing_vectors)} memories without a vector" if self.missing_vectors else "",
            f"{len(self.orphan_vectors)} vectors without a memory" if self.orphan_vectors else "",
            f"{len(self.missing_text)} memories missing from the full-text index"
            if self.missing_text
            else "",
            f"{len(self.orphan_text)} full-text entries without a memory" if self.orphan_text else "",
        ]
        return "; ".join(part for part in parts if part)


def check(store: Store, quick: bool = True) -> IntegrityReport:
    report = IntegrityReport()
    with store.lock:
        conn = store.conn
        pragma = "quick_check" if quick else "integrity_check"
        problems = [row[0] for row in conn.execute(f"pragma {pragma}")]
        report.sqlite = "ok" if problems == ["ok"] else "; ".join(problems[:5])
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
