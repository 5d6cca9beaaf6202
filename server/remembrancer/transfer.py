"""Rows to models and back: export, import and re-embedding of whole stores."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remembrancer import validation as check
from remembrancer.comparison import compare
from remembrancer.config import Settings
from remembrancer.errors import InvalidInput
from remembrancer.models import ExportRecord, ImportReport, Memory, Sighting
from remembrancer.storage import Storage
from remembrancer.storage.rows import Imported, MemoryRow, NewMemory

BATCH = 512  # records per write transaction; the progress bar moves once per batch
Embed = Callable[[Sequence[str]], list[bytes]]


def new_id() -> str:
    return "m_" + secrets.token_hex(8)


def to_memory(row: MemoryRow) -> Memory:
    return Memory(
        id=row.id,
        content=row.content,
        scope=row.scope,
        tags=row.tags,
        metadata=row.metadata,
        created_at=datetime.fromisoformat(row.created_at),
        updated_at=datetime.fromisoformat(row.updated_at),
        seen_count=row.seen_count,
        last_seen_at=None if row.last_seen_at is None else datetime.fromisoformat(row.last_seen_at),
        superseded_by=row.superseded_by,
        occurred_at=datetime.fromisoformat(row.occurred_at or row.created_at),
    )


def export_records(store: Storage) -> Iterator[ExportRecord]:
    """Every memory with the sightings that a round trip must keep, oldest first."""
    for row in store.iter_rows():
        sightings = [
            Sighting(seen_at=datetime.fromisoformat(at), metadata=meta, content=content)
            for at, meta, content in store.sightings(row.rowid)
        ]
        older = [link.older for link in store.links_touching([row.rowid]) if link.newer == row.rowid]
        replaces = sorted(found.id for found in store.get_by_rowids(older).values())
        yield ExportRecord(**to_memory(row).model_dump(), sightings=sightings, replaces=replaces)


def _record_for_import(memory: ExportRecord, settings: Settings) -> NewMemory:
    text = check.check_content(memory.content, settings)
    if memory.seen_count < 1:
        raise InvalidInput(
            f"seen_count is {memory.seen_count}; it counts the times the fact was told, so it is 1 or more."
        )
    return NewMemory(
        id=check.check_id(memory.id),
        content=text,
        content_hash=check.content_hash(text),
        scope=check.check_scope(memory.scope),
        tags=check.check_tags(memory.tags, settings),
        metadata=check.check_metadata(memory.metadata, settings),
        created_at=check.timestamp(memory.created_at),
        updated_at=check.timestamp(memory.updated_at),
        seen_count=memory.seen_count,
        last_seen_at=None if memory.last_seen_at is None else check.timestamp(memory.last_seen_at),
        occurred_at=check.timestamp(memory.occurred_at or memory.created_at),
    )


def _label(memory_id: str) -> str:
    """A record's id for a one-line error: as it is when valid, quoted (and cut) when not."""
    try:
        return check.check_id(memory_id)
    except InvalidInput:
        return repr(memory_id[:80])


@dataclass
class _ImportBatch:
    """Records read together: the fresh ones prepared, their vectors being embedded meanwhile."""

    size: int
    fresh: list[ExportRecord]
    prepared: list[NewMemory]
    vectors: Future[list[bytes]]


def check_records(records: Sequence[ExportRecord], settings: Settings, store: Storage) -> None:
    """Validate every record as the import will, before anything is stored; and every memory a
    record names (``superseded_by``, ``replaces``) must be in the file or already in the store: a
    memory superseded by none would leave recall and list without a trace."""
    for memory in records:
        try:
            _record_for_import(memory, settings)
        except InvalidInput as exc:
            raise InvalidInput(f"record {_label(memory.id)}: {exc} Nothing was imported.") from None
    in_file = {memory.id for memory in records}
    named = {
        other: memory
        for memory in records
        for other in [*memory.replaces, *([memory.superseded_by] if memory.superseded_by else [])]
        if other not in in_file
    }
    present = store.existing_ids(list(named)) if named else set()
    missing = [other for other in named if other not in present]
    if missing:
        memory = named[missing[0]]
        role = "superseded_by" if memory.superseded_by == missing[0] else "replaces"
        raise InvalidInput(
            f"record {_label(memory.id)}: {role} names {_label(missing[0])}, which is neither in the file nor"
            " in the store. Import the whole export, or remove the reference. Nothing was imported."
        )


def _prepare(
    store: Storage, settings: Settings, chunk: list[ExportRecord], unwritten: set[str], done: int
) -> tuple[list[ExportRecord], list[NewMemory]]:
    present = store.existing_ids([m.id for m in chunk])
    fresh = list({m.id: m for m in chunk if m.id not in present and m.id not in unwritten}.values())
    prepared = []
    for memory in fresh:
        try:
            prepared.append(_record_for_import(memory, settings))
        except InvalidInput as exc:
            raise InvalidInput(
                f"record {_label(memory.id)}: {exc} The {done} records before its batch are stored; fix "
                "this one and import again (records already present are skipped)."
            ) from None
    return fresh, prepared


def _write(store: Storage, batch: _ImportBatch, actor: str, links: dict[str, list[str]]) -> None:
    items = [
        Imported(record, vector, [_sighting(s) for s in memory.sightings], memory.superseded_by)
        for memory, record, vector in zip(batch.fresh, batch.prepared, batch.vectors.result(), strict=True)
    ]
    store.import_batch(items, actor)
    links.update({memory.id: memory.replaces for memory in batch.fresh if memory.replaces})


def _sighting(sighting: Sighting) -> tuple[str, dict[str, Any], tuple[str, str] | None]:
    wording = None if sighting.content is None else (sighting.content, check.content_hash(sighting.content))
    return check.timestamp(sighting.seen_at), sighting.metadata, wording


def _link_all(store: Storage, links: dict[str, list[str]]) -> None:
    """Link imported memories to the older ones they replaced, once every record is stored: after
    a fact was stated again, the memory replacing another can come first in the file."""
    rows = store.get_by_ids(list({*links, *(older for named in links.values() for older in named)}))
    with store.transaction():
        for memory_id, replaces in links.items():
            newer = rows[memory_id]
            found = []
            for older in (rows[name] for name in replaces if name in rows):
                comparison = compare(newer.content, older.content)
                guard = (comparison.guard, comparison.pair_guard)
                found.append((older.rowid, comparison.change or "changed", guard))
            store.add_links(newer.rowid, found, newer.created_at)


def import_records(
    store: Storage,
    embed: Embed,
    settings: Settings,
    records: Iterable[ExportRecord],
    *,
    actor: str = "import",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store memories exactly as given (ids, timestamps), in batches; ids already present are skipped.

    Each batch is embedded while the one before it is written, so the embedding sessions never
    wait on SQLite. A record that fails validation stops the import after the batches before it.
    """
    imported = read = 0
    in_flight: _ImportBatch | None = None
    links: dict[str, list[str]] = {}

    def finish() -> None:
        nonlocal imported, in_flight
        if in_flight is not None:
            _write(store, in_flight, actor, links)
            imported += len(in_flight.fresh)
            if progress is not None:
                progress(in_flight.size)
            in_flight = None

    with ThreadPoolExecutor(1, thread_name_prefix="import-embed") as ahead:
        for chunk in _chunks(records, BATCH):
            unwritten = set() if in_flight is None else {m.id for m in in_flight.fresh}
            try:
                fresh, prepared = _prepare(store, settings, chunk, unwritten, read)
            except InvalidInput:
                finish()
                raise
            vectors = ahead.submit(embed, [record.content for record in prepared])
            finish()
            in_flight = _ImportBatch(len(chunk), fresh, prepared, vectors)
            read += len(chunk)
        finish()
    _link_all(store, links)
    return ImportReport(imported=imported, skipped_existing=read - imported)


def _chunks(records: Iterable[ExportRecord], size: int) -> Iterator[list[ExportRecord]]:
    chunk: list[ExportRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def reembed(
    store: Storage, embed: Embed, model: str, dim: int, progress: Callable[[int], None] | None = None
) -> int:
    """Re-embed every memory with the given model, replacing all vectors in one transaction."""
    vectors: list[tuple[int, str, bytes]] = []
    batch: list[MemoryRow] = []

    def flush() -> None:
        if batch:
            for row, vector in zip(batch, embed([r.content for r in batch]), strict=True):
                vectors.append((row.rowid, row.scope, vector))
            if progress is not None:
                progress(len(batch))
            batch.clear()

    for row in store.iter_rows():
        batch.append(row)
        if len(batch) >= BATCH:
            flush()
    flush()
    store.replace_vector_table(model, dim, iter(vectors))
    return len(vectors)
