"""The writes a judge's decision, a review, an undo and an import are made of, as a base class
of ``Store``.

Each is one transaction (a savepoint inside the caller's), so a crash leaves it whole or absent,
and each writes its history event beside the change it records.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from remembrancer.storage.rows import Guard, Imported, Inserted, MemoryRow, NewMemory, Sighting


class StoreDecisions:
    if TYPE_CHECKING:  # provided by each engine's store
        lock: threading.RLock
        _depth: int  # open transactions of the thread holding the lock

        def transaction(self) -> AbstractContextManager[None]: ...
        def replace_content(
            self, row: MemoryRow, content: str, content_hash: str, vector: bytes, at: str
        ) -> None: ...
        def set_superseded(self, rowids: Sequence[int], by_id: str | None, at: str | None) -> None: ...
        def set_needs_review(self, rowid: int, flag: bool) -> None: ...
        def drop_all_links(self, rowid: int) -> None: ...
        def add_history(
            self, memory_id: str, event: str, at: str, actor: str, details: dict[str, Any]
        ) -> int: ...
        def add_links(self, newer: int, older: Sequence[tuple[int, str, Guard]], at: str) -> None: ...
        def drop_links(self, newer: int) -> None: ...
        def drop_links_to(self, older: int) -> None: ...
        def insert(
            self,
            memory: NewMemory,
            vector: bytes,
            actor: str,
            event: str = "added",
            details: dict[str, Any] | None = None,
            links: Sequence[tuple[int, str, Guard]] = (),
        ) -> Inserted: ...
        def insert_sightings(self, rowid: int, sightings: Sequence[Sighting]) -> None: ...
        def get_by_ids(self, ids: Sequence[str]) -> dict[str, MemoryRow]: ...
        def delete(self, rows: Sequence[MemoryRow], at: str, actor: str) -> None: ...

    def _atomic(self) -> AbstractContextManager[None]:
        """The open transaction of this thread, or a new one (a savepoint per row would double
        a bulk import's time, bench/scale.py). Call with the lock held: a thread holds it for
        its whole transaction, so only the holder can have one open."""
        return nullcontext() if self._depth else self.transaction()

    def rewrite(
        self,
        row: MemoryRow,
        content: str,
        content_hash: str,
        vector: bytes,
        change: tuple[str, str, str, dict[str, Any]],
    ) -> None:
        """New text for a memory (an update, or an undone one): its links to other memories
        were about the old text, so they go. ``change`` is (event, at, actor, details)."""
        event, at, actor, details = change
        with self.transaction():
            self.replace_content(row, content, content_hash, vector, at)
            self.drop_all_links(row.rowid)
            self.add_history(row.id, event, at, actor, details)

    def supersede(
        self, older: Sequence[MemoryRow], by_id: str, at: str, actor: str, details: dict[str, Any]
    ) -> None:
        """The older memories leave recall for ``by_id``; each keeps a "superseded" event."""
        with self.transaction():
            self.set_superseded([row.rowid for row in older], by_id, at)
            for row in older:
                self.add_history(row.id, "superseded", at, actor, details)

    def restore(self, rows: Sequence[MemoryRow], at: str, actor: str, details: dict[str, Any]) -> None:
        """Superseded memories back in recall, each with a "reverted" event."""
        with self.transaction():
            self.set_superseded([row.rowid for row in rows], None, None)
            for row in rows:
                self.add_history(row.id, "reverted", at, actor, details)

    def settle_review(self, row: MemoryRow, at: str, actor: str, details: dict[str, Any]) -> None:
        """A memory the fallback stored has had its second look."""
        with self.transaction():
            self.set_needs_review(row.rowid, False)
            self.add_history(row.id, "reviewed", at, actor, details)

    def revert_supersede(
        self, older: Sequence[MemoryRow], newer_id: str, at: str, actor: str, details: dict[str, Any]
    ) -> bool:
        """Undo a supersede: the older memories back in recall, and the memory that superseded
        them removed (as by forget). False when that memory was already gone."""
        with self.transaction():
            self.restore(older, at, actor, details)
            self.add_history(newer_id, "reverted", at, actor, details)
            newer = self.get_by_ids([newer_id])
            if newer_id in newer:
                self.delete([newer[newer_id]], at, actor)
            return newer_id in newer

    def revert_links(self, newer: MemoryRow, at: str, actor: str, details: dict[str, Any]) -> None:
        """Undo a judgement that a memory changed the value of older ones: the links go, so the
        older memories are current again, and the memory stays."""
        with self.transaction():
            self.drop_links(newer.rowid)
            self.add_history(newer.id, "reverted", at, actor, details)

    def restate(self, row: MemoryRow, links: Sequence[tuple[int, str, Guard]], at: str) -> None:
        """A fact stated again is current again: the links that named it as the changed value
        turn round, to name it as the newer one."""
        with self.transaction():
            self.drop_links_to(row.rowid)
            self.add_links(row.rowid, links, at)

    def replace_links(self, newer: MemoryRow, links: Sequence[tuple[int, str, Guard]], at: str) -> None:
        """What a memory changes the value of, read again (the LLM judge's second look)."""
        with self.transaction():
            self.drop_links(newer.rowid)
            self.add_links(newer.rowid, links, at)

    def import_batch(self, batch: Sequence[Imported], actor: str) -> list[int]:
        """Memories from an export, each with its sightings and, if it had been superseded, the
        mark: all or none of the batch."""
        rowids = []
        with self.transaction():
            for item in batch:
                rowid = self.insert(item.memory, item.vector, actor, event="imported").rowid
                self.insert_sightings(rowid, item.sightings)
                if item.superseded_by is not None:
                    self.set_superseded([rowid], item.superseded_by, item.memory.updated_at)
                rowids.append(rowid)
        return rowids
