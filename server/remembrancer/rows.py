"""The plain values the store takes and returns, and the filter every search shares."""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple


class Beside(NamedTuple):
    """The memories stored just before and just after one, in its sitting."""

    before: list[int]
    after: list[int]


# The order MemoryRow.from_tuple reads them in.
MEMORY_COLUMNS = (
    "rowid, id, content, content_hash, scope, tags, metadata, created_at, updated_at,"
    " seen_count, last_seen_at, superseded_by, needs_review, context_rowid, occurred_at"
)


@dataclass(frozen=True)
class MemoryRow:
    rowid: int
    id: str
    content: str
    content_hash: str
    scope: str
    tags: list[str]
    metadata: dict[str, Any]
    created_at: str
    updated_at: str
    seen_count: int
    last_seen_at: str | None
    superseded_by: str | None = None
    needs_review: bool = False
    context_rowid: int | None = None
    occurred_at: str | None = None  # None: when it was stored

    @classmethod
    def from_tuple(cls, row: Sequence[Any]) -> MemoryRow:
        return cls(
            rowid=row[0],
            id=row[1],
            content=row[2],
            content_hash=row[3],
            scope=row[4],
            tags=json.loads(row[5]),
            metadata=json.loads(row[6]),
            created_at=row[7],
            updated_at=row[8],
            seen_count=row[9],
            last_seen_at=row[10],
            superseded_by=row[11],
            needs_review=bool(row[12]),
            context_rowid=row[13],
            occurred_at=row[14] if len(row) > 14 else None,
        )


@dataclass(frozen=True)
class NewMemory:
    id: str
    content: str
    content_hash: str
    scope: str
    tags: list[str]
    metadata: dict[str, Any]
    created_at: str
    updated_at: str
    seen_count: int = 1
    last_seen_at: str | None = None
    needs_review: bool = False
    occurred_at: str | None = None  # None: when it was stored


@dataclass(frozen=True)
class RowFilter:
    """Restricts a search to memories in these scopes, carrying all tags, inside a time range."""

    scopes: tuple[str, ...]
    tags: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    include_superseded: bool = False

    @property
    def narrows(self) -> bool:
        return bool(self.tags) or self.since is not None or self.until is not None

    def where(self, alias: str = "m") -> tuple[str, list[Any]]:
        clauses = [f"{alias}.scope in ({marks(len(self.scopes))})"]
        if not self.include_superseded:
            clauses.append(f"{alias}.superseded_by is null")
        params: list[Any] = list(self.scopes)
        if self.since is not None:
            clauses.append(f"{alias}.occurred_at >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append(f"{alias}.occurred_at <= ?")
            params.append(self.until)
        for tag in self.tags:
            clauses.append(
                f"exists (select 1 from memory_tags t where t.memory_rowid = {alias}.rowid and t.tag = ?)"
            )
            params.append(tag)
        return " and ".join(clauses), params


def marks(count: int) -> str:
    return ", ".join("?" * count)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def float32_bytes(vector: Sequence[float]) -> bytes:
    """A vector as sqlite-vec stores it: float32 values, native byte order."""
    return struct.pack(f"{len(vector)}f", *vector)
