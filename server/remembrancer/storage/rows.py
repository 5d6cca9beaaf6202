"""The plain values storage takes and returns, and the filter every search shares (no SQL:
each engine turns the filter into its own query)."""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple


class Inserted(NamedTuple):
    """A new memory's key, and the id of the history event that records it."""

    rowid: int
    event: int


#: A duplicate seen: (seen_at, metadata, (its wording, the wording's hash) or None when identical).
Sighting = tuple[str, dict[str, Any], tuple[str, str] | None]


class Beside(NamedTuple):
    """The memories stored just before and just after one, in its sitting."""

    before: list[int]
    after: list[int]


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
        """From the fields in the order they are declared, tags and metadata as JSON text."""
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


class HistoryRow(NamedTuple):
    """One event in a memory's history; ``details`` is JSON text."""

    id: int
    memory_id: str
    event: str
    at: str
    actor: str
    details: str


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


Guard = tuple[Sequence[str], Sequence[str]]  # words of the older: any one / any two named keep its place


@dataclass(frozen=True)
class Link:
    newer: int
    older: int
    change: str
    guard: tuple[str, ...]
    pair_guard: tuple[str, ...]
    at: str


@dataclass(frozen=True)
class Replaced:
    """A memory another one superseded (the LLM judge's way): hidden from recall, kept."""

    id: str
    created_at: str
    superseded_by: str


@dataclass(frozen=True)
class Imported:
    """One memory of an import: the row, its vector, its sightings, and who superseded it."""

    memory: NewMemory
    vector: bytes
    sightings: Sequence[Sighting] = ()
    superseded_by: str | None = None


#: A sighting as stored: (seen_at, metadata, wording or None, the wording's hash or None).
StoredSighting = tuple[str, dict[str, Any], str | None, str | None]


@dataclass(frozen=True)
class WholeMemory:
    """A memory exactly as a store holds it, for a copy to another store: its key, when it was
    superseded, its vector, and its sightings with their hashes."""

    row: MemoryRow
    superseded_at: str | None
    vector: bytes
    sightings: tuple[StoredSighting, ...]


#: The memory columns a copy writes, in the order of ``WholeMemory.values``.
COPIED_COLUMNS = (
    "rowid, id, content, content_hash, scope, tags, metadata, created_at, updated_at, seen_count,"
    " last_seen_at, superseded_by, superseded_at, needs_review, context_rowid, occurred_at"
)


def copied_values(whole: WholeMemory) -> tuple[Any, ...]:
    """A copied memory's row, in the order of ``COPIED_COLUMNS`` (tags and metadata as JSON)."""
    row = whole.row
    return (
        row.rowid,
        row.id,
        row.content,
        row.content_hash,
        row.scope,
        to_json(row.tags),
        to_json(row.metadata),
        row.created_at,
        row.updated_at,
        row.seen_count,
        row.last_seen_at,
        row.superseded_by,
        whole.superseded_at,
        row.needs_review,
        row.context_rowid,
        row.occurred_at,
    )


def missing_vector(memory_id: str, store: str) -> str:
    return (
        f"memory {memory_id} in {store} has no vector; run `remembrancer doctor --repair` on it first,"
        " then copy again."
    )


@dataclass(frozen=True)
class RowFilter:
    """Restricts a search to memories in these scopes, carrying all tags, inside a time range."""

    scopes: tuple[str, ...]
    tags: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    include_superseded: bool = False
    #: Only memories a newer one superseded, or only those waiting for the LLM's review.
    only: Literal["superseded", "review"] | None = None

    @property
    def narrows(self) -> bool:
        return bool(self.tags) or self.since is not None or self.until is not None


@dataclass
class IntegrityReport:
    engine: str = "ok"  # the engine's own check of its files
    memories: int = 0
    missing_vectors: list[int] = field(default_factory=list)
    orphan_vectors: list[int] = field(default_factory=list)
    missing_text: list[int] = field(default_factory=list)
    orphan_text: list[int] = field(default_factory=list)
    text_index: str = "ok"

    @property
    def ok(self) -> bool:
        return (
            self.engine == "ok"
            and self.text_index == "ok"
            and not (self.missing_vectors or self.orphan_vectors or self.missing_text or self.orphan_text)
        )

    def summary(self) -> str:
        if self.ok:
            return f"{self.memories} memories, each with its vector and full-text entry"
        parts = [
            f"database: {self.engine}" if self.engine != "ok" else "",
            f"full-text index: {self.text_index}" if self.text_index != "ok" else "",
            f"{len(self.missing_vectors)} memories without a vector" if self.missing_vectors else "",
            f"{len(self.orphan_vectors)} vectors without a memory" if self.orphan_vectors else "",
            f"{len(self.missing_text)} memories missing from the full-text index"
            if self.missing_text
            else "",
            f"{len(self.orphan_text)} full-text entries without a memory" if self.orphan_text else "",
        ]
        return "; ".join(part for part in parts if part)


#: Memories stored within this many seconds of each other (event time), in one scope, are one
#: sitting: the memory before a new one is its context.
SITTING_SECONDS = 3600


def same_sitting(occurred_at: str, previous_at: str) -> bool:
    """Two memories' event times (the stores' UTC text) are close enough to be one sitting."""
    gap = datetime.fromisoformat(occurred_at) - datetime.fromisoformat(previous_at)
    return abs(gap.total_seconds()) <= SITTING_SECONDS


#: What a store's location starts with when it is a database server rather than a file.
DATABASE_URI_SCHEMES = ("postgresql://", "postgres://")


def is_database_uri(target: object) -> bool:
    """A PostgreSQL connection URI rather than a file path."""
    return isinstance(target, str) and target.startswith(DATABASE_URI_SCHEMES)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def float32_bytes(vector: Sequence[float]) -> bytes:
    """A vector as storage takes it: float32 values, native byte order."""
    return struct.pack(f"{len(vector)}f", *vector)
