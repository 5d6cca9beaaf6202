"""What recall says about facts whose value changed: newest first, and which memory replaced which.

Two kinds of record say a memory changed an older one: a link left by the local judge (both
stay live; ``storage/sqlite/links.py``) and a supersede by the LLM judge (the older leaves recall). A
hit names both ways: ``replaces`` (older versions) and ``replaced_by`` (a newer live one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from remembrancer.models import LinkedMemory
from remembrancer.statements import read
from remembrancer.storage import Link, Repository
from remembrancer.storage.rows import MemoryRow, RowFilter

#: How many newer versions of a fact recall follows from one memory (links can form chains).
NEWER_CHAIN = 4


Guard = tuple[tuple[str, ...], tuple[str, ...]]


def asks_about_older(query_words: frozenset[str], guard: Guard) -> bool:
    """The query names one of the older memory's own words, or two of its weaker ones."""
    strong, weak = guard
    return bool(query_words.intersection(strong)) or len(query_words.intersection(weak)) >= 2


def newest_first(
    ranked: Sequence[int], newer_of: dict[int, list[tuple[int, Guard]]], query_words: frozenset[str]
) -> list[int]:
    """Put each memory's newer versions just before it, pulling them in when absent.

    ``newer_of`` maps a memory to (newer memory, the older one's own words). A query naming
    those words asks about the older fact itself ("the *web* app's *error tracking*" when a
    look-alike was taken for a change), so there the order stays as relevance made it.
    """
    placed: list[int] = []
    seen: set[int] = set()

    def place(item: int, depth: int) -> None:
        if item in seen:
            return
        if depth < NEWER_CHAIN:
            for newer, guard in newer_of.get(item, ()):
                if not asks_about_older(query_words, guard):
                    place(newer, depth + 1)
        if item not in seen:
            seen.add(item)
            placed.append(item)

    for item in ranked:
        place(item, 0)
    return placed


@dataclass(frozen=True)
class Changes:
    links: tuple[Link, ...]
    live_newer: frozenset[int]  # newer ends that are live and admitted by the query's filter

    @property
    def rowids(self) -> set[int]:
        return {end for link in self.links for end in (link.newer, link.older)}

    def describe(self, rowid: int, rows: dict[int, MemoryRow]) -> dict[str, Any]:
        """``replaces`` / ``replaced_by`` for one hit, from the local judge's links."""
        older = [
            _linked(rows[link.older], link.change)
            for link in self.links
            if link.newer == rowid and link.older in rows
        ]
        newer = [
            _linked(rows[link.newer], link.change)
            for link in self.links
            if link.older == rowid and link.newer in self.live_newer and link.newer in rows
        ]
        return {"replaces": older, "replaced_by": newer[-1] if newer else None}


def changes_of(store: Repository, rowids: Sequence[int], row_filter: RowFilter) -> Changes:
    """The links touching these memories, and which of their newer ends are live and admitted
    by the filter (whatever else it asks for: superseded ones only, say)."""
    links = tuple(store.links_touching(rowids))
    if not links:
        return Changes((), frozenset())
    live_filter = replace(row_filter, include_superseded=False, only=None)
    return Changes(links, frozenset(store.admitted([link.newer for link in links], live_filter)))


def newest_first_hits(
    store: Repository, ranked: list[int], row_filter: RowFilter, query: str
) -> tuple[list[int], Changes]:
    """The ranked hits with each changed fact's newest live version just before the older one."""
    changes = changes_of(store, ranked, row_filter)
    if not changes.links:
        return ranked, changes
    newer_of: dict[int, list[tuple[int, Guard]]] = {}
    for link in changes.links:
        if link.newer in changes.live_newer:
            newer_of.setdefault(link.older, []).append((link.newer, (link.guard, link.pair_guard)))
    words = frozenset(word.norm for word in read(query).words)
    return newest_first(ranked, newer_of, words), changes


def add_superseded(hits: Sequence[dict[str, Any]], store: Repository) -> None:
    """Name, in each hit's ``replaces``, the memories the LLM judge superseded with it."""
    by_id = {hit["id"]: hit for hit in hits}
    for old in store.replaced_by(list(by_id)):
        by_id[old.superseded_by]["replaces"].append(
            LinkedMemory(id=old.id, created_at=datetime.fromisoformat(old.created_at), change="superseded")
        )


def _linked(row: MemoryRow, change: str) -> LinkedMemory:
    return LinkedMemory(id=row.id, created_at=datetime.fromisoformat(row.created_at), change=change)
