"""What the rest of the code may ask of a storage engine: three protocols and their sum.

- ``TextSearch``: words to memories (SQLite: FTS5 with its vocabulary table).
- ``VectorSearch``: a query vector to the memories nearest in meaning (SQLite: an in-memory copy
  of the sqlite-vec table; an engine that indexes vectors itself searches there instead).
- ``Repository``: memory rows, their history, sightings and links. Each write is a whole
  logical step with its history event (store a new memory with its links, count a sighting,
  rewrite, supersede, restore, revert a supersede, restate, settle a review, import a batch,
  forget), one transaction each, or a part of the caller's when one is open (a failure fails
  it whole). ``transaction()`` nests (an inner one is a savepoint, for a caller that wants to go
  on after a failed part), so a decision that reads before it writes (is the memory it names
  still live?) is one transaction as well.

``transaction()`` gives what runs inside it the store to itself until it commits: what it read
(is the memory a decision names still live? is this text already stored?) stays true while it
writes. SQLite takes its write lock at the start (``BEGIN IMMEDIATE``); an engine that lets
several writers in at once takes a lock of its own, so callers never retry.

Memories are addressed by their public id (``m_...``) or, inside one engine, by an integer key
(``MemoryRow.rowid``) that only orders and joins: nothing outside assumes how it is made. No
engine may cache across processes what another process can change without noticing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from remembrancer.storage.rows import (
    Beside,
    Guard,
    HistoryRow,
    Imported,
    Inserted,
    Link,
    MemoryRow,
    NewMemory,
    Replaced,
    RowFilter,
    WholeMemory,
)

#: (key, cosine distance), nearest first.
Neighbours = list[tuple[int, float]]


class TextSearch(Protocol):
    def word_frequencies(self, words: list[str]) -> dict[str, int]:
        """How many memories hold each word (as the index stems it), store-wide."""
        ...

    def document_count(self) -> int: ...

    def full_text(
        self,
        words: Sequence[str],
        row_filter: RowFilter,
        k: int,
        frequency: Mapping[str, int] | None = None,
    ) -> list[tuple[int, float]]:
        """The k best matches of any of the words among the memories the filter admits."""
        ...

    def evidence(self, rowids: list[int]) -> dict[int, tuple[str, str, str, float | None]]:
        """(content, tags, context, continuity) of each memory, as the text side matches them;
        continuity is the cosine similarity of the memory to its context (the memory stored
        before it in its sitting), None when it has none."""
        ...


class VectorSearch(Protocol):
    def searcher(self, scopes: Sequence[str], k: int) -> Callable[[bytes], Neighbours]:
        """A search of these scopes, ready to run on another thread without waiting for the store."""
        ...

    def nearest(self, vector: bytes, scopes: Sequence[str], k: int) -> Neighbours: ...

    def nearest_filtered(self, vector: bytes, row_filter: RowFilter, k: int) -> Neighbours: ...

    def similarities(self, vector: bytes, rowids: list[int], scopes: Sequence[str]) -> dict[int, float]:
        """Cosine similarity of the vector to each of these memories, all of them in these scopes."""
        ...

    def warm_up(self) -> None:
        """Get ready for the first search (load what the engine keeps in memory)."""
        ...


class Repository(Protocol):
    path: str

    def transaction(self) -> AbstractContextManager[None]: ...

    # -- reads --------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None: ...
    def schema_version(self) -> int: ...
    def get_by_ids(self, ids: Sequence[str]) -> dict[str, MemoryRow]: ...
    def get_by_rowids(self, rowids: Sequence[int]) -> dict[int, MemoryRow]: ...
    def find_by_hash(self, scope: str, content_hash: str) -> MemoryRow | None: ...
    def existing_ids(self, ids: Sequence[str]) -> set[str]: ...
    def ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` ids of memories that start with ``prefix``, in order."""
        ...

    def is_live(self, rowid: int) -> bool: ...
    def list_rows(self, row_filter: RowFilter, limit: int, offset: int = 0) -> list[MemoryRow]: ...
    def iter_rows(self, batch: int = 1000) -> Iterator[MemoryRow]: ...
    def admitted(self, rowids: Sequence[int], row_filter: RowFilter) -> set[int]: ...
    def neighbours(self, rowids: list[int]) -> dict[int, Beside]: ...
    def event_times(self, rowids: Sequence[int]) -> dict[int, str]: ...
    def scope_counts(self) -> dict[str, int]: ...
    def scope_exists(self, scope: str) -> bool: ...
    def newest_live(self, scope: str) -> int | None:
        """The key of the scope's newest live memory (keys are never reused): it changes when
        a memory is stored there."""
        ...

    def counts(self) -> dict[str, int]: ...
    def pending_review(self, limit: int) -> list[MemoryRow]: ...
    def page_rows(self, row_filter: RowFilter, limit: int, before: int | None) -> list[MemoryRow]:
        """Memories the filter admits, newest stored first, keyed below ``before`` (a page)."""
        ...

    def scope_names(self) -> list[str]:
        """Every scope that holds a memory, in order (cheaper than ``scope_counts``)."""
        ...

    def monthly_counts(self, scopes: Sequence[str] | None) -> list[tuple[str, str, int]]:
        """(YYYY-MM stored, scope, memories) for these scopes, or every scope."""
        ...

    def event_counts(self, scopes: Sequence[str] | None) -> dict[str, int]:
        """History events by kind, of memories in these scopes, or of every memory."""
        ...

    def count_pending_review(self) -> int: ...
    def history(self, memory_id: str | None = None, limit: int = 100) -> list[HistoryRow]: ...
    def history_event(self, event_id: int) -> HistoryRow | None: ...
    def was_reverted(self, event_id: int) -> bool: ...
    def sightings(self, rowid: int) -> list[tuple[str, dict[str, Any], str | None]]: ...
    def links_touching(self, rowids: Sequence[int]) -> list[Link]: ...
    def newer_links(self, older: int) -> list[Link]: ...
    def replaced_by(self, ids: Sequence[str]) -> list[Replaced]: ...

    # -- writes: each one transaction (a savepoint inside the caller's) ---------------------
    def insert(
        self,
        memory: NewMemory,
        vector: bytes,
        actor: str,
        event: str = "added",
        details: dict[str, Any] | None = None,
        links: Sequence[tuple[int, str, Guard]] = (),
    ) -> Inserted:
        """A new memory with its history event and the older memories whose value it changes."""
        ...

    def record_sighting(
        self,
        rowid: int,
        memory_id: str,
        seen_at: str,
        metadata: dict[str, Any],
        actor: str,
        details: dict[str, Any] | None = None,
        wording: tuple[str, str] | None = None,
    ) -> None:
        """A duplicate arrived: counted, with where it came from and its wording if not identical."""
        ...

    def rewrite(
        self,
        row: MemoryRow,
        content: str,
        content_hash: str,
        vector: bytes,
        change: tuple[str, str, str, dict[str, Any]],
    ) -> None:
        """New text for a memory; ``change`` is its history event (event, at, actor, details)."""
        ...

    def supersede(
        self, older: Sequence[MemoryRow], by_id: str, at: str, actor: str, details: dict[str, Any]
    ) -> None: ...
    def restore(self, rows: Sequence[MemoryRow], at: str, actor: str, details: dict[str, Any]) -> None: ...
    def revert_supersede(
        self, older: Sequence[MemoryRow], newer_id: str, at: str, actor: str, details: dict[str, Any]
    ) -> bool: ...
    def revert_links(self, newer: MemoryRow, at: str, actor: str, details: dict[str, Any]) -> None: ...
    def restate(self, row: MemoryRow, links: Sequence[tuple[int, str, Guard]], at: str) -> None: ...
    def replace_links(self, newer: MemoryRow, links: Sequence[tuple[int, str, Guard]], at: str) -> None: ...
    def add_links(self, newer: int, older: Sequence[tuple[int, str, Guard]], at: str) -> None: ...
    def settle_review(self, row: MemoryRow, at: str, actor: str, details: dict[str, Any]) -> None: ...
    def import_batch(self, batch: Sequence[Imported], actor: str) -> list[int]: ...
    def delete(self, rows: Sequence[MemoryRow], at: str, actor: str) -> None:
        """Forget: the rows and every trace of their text; history keeps only ids and times."""
        ...

    # -- whole-store copies: read out in key order, written into an empty store as they were ----
    def whole_memories(self, after: int, limit: int) -> list[WholeMemory]:
        """Up to ``limit`` memories with keys above ``after``, in key order."""
        ...

    def history_after(self, after: int, limit: int) -> list[HistoryRow]: ...
    def copy_in(self, memories: Sequence[WholeMemory], events: Sequence[HistoryRow]) -> None:
        """Memories and history events as another store holds them: keys, ids and times kept."""
        ...

    def finish_copy(self, links: Sequence[Link]) -> None:
        """The links between the copied memories; the text side and key generators caught up."""
        ...


class Storage(Repository, TextSearch, VectorSearch, Protocol):
    """One open store: what ``open_store`` returns."""

    def bind_embedding_model(self, model: str, dim: int) -> None:
        """Record the model on first use; refuse a store embedded with another (ModelMismatch)."""
        ...

    def replace_vector_table(
        self, model: str, dim: int, vectors: Iterator[tuple[int, str, bytes]]
    ) -> None: ...
    def describe(self) -> str:
        """The engine and its version ("PostgreSQL 18.6 with pgvector 0.8.6")."""
        ...

    def file_bytes(self) -> int: ...
    def checkpoint(self) -> None: ...
    def close(self) -> None: ...
