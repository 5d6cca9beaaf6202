"""The writes a judge's decision, a review and an undo are made of, as a base class of ``Store``.

Each is one transaction (a savepoint inside the caller's), so a crash leaves it whole or absent,
and each writes its history event beside the change it records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from remembrancer.storage.rows import MemoryRow

if TYPE_CHECKING:
    from contextlib import AbstractContextManager


class StoreDecisions:
    if TYPE_CHECKING:  # provided by Store

        def transaction(self) -> AbstractContextManager[None]: ...
        def replace_content(
            self, row: MemoryRow, content: str, content_hash: str, vector: bytes, at: str
        ) -> None: ...
        def set_superseded(self, rowids: Sequence[int], by_id: str | None, at: str | None) -> None: ...
        def set_needs_review(self, rowid: int, flag: bool) -> None: ...
        def drop_all_links(self, rowid: int) -> None: ...
        def add_history(
            self, memory_id: str, event: str, at: str, actor: str, details: dict[str, Any]
        ) -> None: ...

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
