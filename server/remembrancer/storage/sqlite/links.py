"""Links between a memory and the older ones whose value it changed (both kept live).

A mixin of ``Store``, like ``StoreReads``: one concern, one file. Writes run inside the
caller's ``transaction()``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence

from remembrancer.storage.rows import Guard, Link, Replaced, to_json
from remembrancer.storage.sqlite.connection import Connection
from remembrancer.storage.sqlite.sql import marks


class StoreLinks:
    conn: Connection
    lock: threading.RLock

    def add_links(self, newer: int, older: Sequence[tuple[int, str, Guard]], at: str) -> None:
        """Record that ``newer`` states a changed value of each older memory. Caller holds a transaction."""
        if not older:
            return
        self.conn.executemany(
            "insert or replace into memory_links(newer_rowid, older_rowid, change, guard, at)"
            " values (?, ?, ?, ?, ?)",
            [
                (newer, rowid, change, to_json({"any": list(guard[0]), "pair": list(guard[1])}), at)
                for rowid, change, guard in older
                if rowid != newer
            ],
        )

    def drop_links(self, newer: int) -> None:
        """Forget what ``newer`` was judged to replace. Caller holds a transaction."""
        self.conn.execute("delete from memory_links where newer_rowid = ?", (newer,))

    def newer_links(self, older: int) -> list[Link]:
        """The links naming ``older`` as the replaced memory (read inside a transaction to act on them)."""
        return self._links(
            "select newer_rowid, older_rowid, change, guard, at from memory_links where older_rowid = ?",
            [older],
        )

    def drop_all_links(self, rowid: int) -> None:
        """Forget every link of a memory whose text changed. Caller holds a transaction."""
        self.conn.execute("delete from memory_links where newer_rowid = ? or older_rowid = ?", (rowid, rowid))

    def drop_links_to(self, older: int) -> None:
        self.conn.execute("delete from memory_links where older_rowid = ?", (older,))

    def links_touching(self, rowids: Sequence[int]) -> list[Link]:
        """Every link with either end among ``rowids``."""
        if not rowids:
            return []
        holes = marks(len(rowids))
        with self.lock:
            return self._links(
                "select newer_rowid, older_rowid, change, guard, at from memory_links"
                f" where newer_rowid in ({holes}) union"
                " select newer_rowid, older_rowid, change, guard, at from memory_links"
                f" where older_rowid in ({holes})",
                [*rowids, *rowids],
            )

    def _links(self, sql: str, params: Sequence[object]) -> list[Link]:
        links = []
        for newer, older, change, guard, at in self.conn.execute(sql, list(params)):
            words = json.loads(guard)
            links.append(Link(newer, older, change, tuple(words["any"]), tuple(words["pair"]), at))
        return links

    def replaced_by(self, ids: Sequence[str]) -> list[Replaced]:
        """Memories superseded by any of ``ids``, oldest first."""
        if not ids:
            return []
        with self.lock:
            rows = self.conn.execute(
                "select id, created_at, superseded_by from memories"
                f" where superseded_by in ({marks(len(ids))}) order by created_at",
                list(ids),
            ).fetchall()
        return [Replaced(*row) for row in rows]

    def scrub_mentions(self, forgotten: str) -> None:
        """Take the text out of every other memory's history event that names a forgotten memory:
        a reason ("value changed: 4411 → 9376"), an update's new or previous wording. It reads the
        whole history, as forgetting is rare and must reach every mention. Caller holds a transaction."""
        self.conn.execute(
            "update history set details = json_set(json_remove(details, '$.previous', '$.new'),"
            " '$.reason', 'about a forgotten memory')"
            " where memory_id != ? and instr(details, ?) > 0",
            (forgotten, forgotten),
        )
