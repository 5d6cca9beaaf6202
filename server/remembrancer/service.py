"""MemoryService: the one place that combines the store, the embedder and the judge."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_vec

from remembrancer import validation as check
from remembrancer.config import Settings
from remembrancer.db import connect
from remembrancer.dedup import Candidate, Judge, SimilarityJudge
from remembrancer.embeddings import Embedder
from remembrancer.errors import InvalidInput, NotFound
from remembrancer.models import (
    ExportRecord,
    ForgetResult,
    HistoryEvent,
    ImportReport,
    Memory,
    RecallHit,
    RecallResult,
    RememberResult,
    ScopeStats,
    Sighting,
    StoreStats,
)
from remembrancer.retrieval import full_text_query, reciprocal_rank_fusion
from remembrancer.store import MemoryRow, NewMemory, RowFilter, Store

log = logging.getLogger(__name__)

DEDUP_CANDIDATES = 8
RETRIEVAL_DEPTH = 50
IMPORT_BATCH = 256


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
    )


class MemoryService:
    def __init__(
        self, store: Store, embedder: Embedder, settings: Settings, judge: Judge | None = None
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.judge = judge or SimilarityJudge(settings.duplicate_threshold)

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder, *, bind_model: bool = True) -> MemoryService:
        path = Path(settings.db_path).expanduser()
        store = Store(connect(path), str(path))
        if bind_model:
            try:
                store.bind_embedding_model(embedder.name, embedder.dim)
            except BaseException:
                store.close()
                raise
        return cls(store, embedder, settings)

    def close(self) -> None:
        self.store.close()

    def _vectors(self, texts: Sequence[str]) -> list[bytes]:
        return [sqlite_vec.serialize_float32(vector) for vector in self.embedder.embed(texts)]

    # -- remember -------------------------------------------------------------------------

    def remember(
        self,
        content: str,
        tags: Iterable[str] | None = None,
        metadata: dict[str, Any] | None = None,
        scope: str | None = None,
        *,
        actor: str = "api",
        created_at: datetime | None = None,
    ) -> RememberResult:
        text = check.check_content(content, self.settings)
        tag_list = check.check_tags(tags, self.settings)
        meta = check.check_metadata(metadata, self.settings)
        scope_name = check.check_scope(scope or self.settings.default_scope)
        digest = check.content_hash(text)
        now = check.timestamp(datetime.now(UTC))

        known = self.store.find_by_hash(scope_name, digest)
        if known is not None:  # identical text: answered without paying for an embedding
            return self._seen_again(known, meta, now, actor, "hash", 1.0)

        vector = self._vectors([text])[0]
        neighbours = self.store.nearest(vector, [scope_name], DEDUP_CANDIDATES)
        rows = self.store.get_by_rowids([rowid for rowid, _ in neighbours])
        candidates = [
            Candidate(rows[rowid].id, rows[rowid].content, 1.0 - distance)
            for rowid, distance in neighbours
            if rowid in rows
        ]
        decision = self.judge.decide(text, candidates)
        if decision.action == "duplicate" and decision.target_id is not None:
            target = self.store.get_by_ids([decision.target_id]).get(decision.target_id)
            if target is not None:
                return self._seen_again(target, meta, now, actor, "similarity", decision.similarity)

        created = check.timestamp(created_at) if created_at is not None else now
        record = NewMemory(new_id(), text, digest, scope_name, tag_list, meta, created, created)
        with self.store.transaction():
            # Another writer may have stored the same text while we were embedding.
            raced = self.store.find_by_hash(scope_name, digest)
            if raced is None:
                self.store.insert(record, vector, actor)
        if raced is not None:
            return self._seen_again(raced, meta, now, actor, "hash", 1.0)
        stored = self.store.get_by_ids([record.id])[record.id]
        return RememberResult(status="added", memory=to_memory(stored))

    def _seen_again(
        self,
        row: MemoryRow,
        metadata: dict[str, Any],
        now: str,
        actor: str,
        how: str,
        similarity: float | None,
    ) -> RememberResult:
        with self.store.transaction():
            self.store.record_sighting(row.rowid, row.id, now, metadata, actor)
        updated = self.store.get_by_ids([row.id]).get(row.id, row)
        return RememberResult(
            status="duplicate",
            memory=to_memory(updated),
            duplicate_of=row.id,
            matched_by="hash" if how == "hash" else "similarity",
            similarity=None if similarity is None else round(similarity, 4),
        )

    # -- recall ---------------------------------------------------------------------------

    def _row_filter(
        self,
        scope: str | Sequence[str] | None,
        tags: Iterable[str] | None,
        since: datetime | None,
        until: datetime | None,
    ) -> RowFilter:
        scopes = check.check_scopes(scope, self.settings.default_scope)
        for name in scopes:
            if name != self.settings.default_scope and not self.store.scope_exists(name):
                known = ", ".join(self.store.scope_counts()) or "none yet"
                raise NotFound(
                    f"scope {name!r} holds no memories (known scopes: {known}). Check the name, "
                    "or remember something with this scope first."
                )
        start, end = check.check_time_range(since, until)
        return RowFilter(
            scopes=scopes, tags=tuple(check.check_tags(tags, self.settings)), since=start, until=end
        )

    def recall(
        self,
        query: str,
        limit: int = 5,
        tags: Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        scope: str | Sequence[str] | None = None,
    ) -> RecallResult:
        text = check.check_query(query)
        check.check_limit(limit)
        row_filter = self._row_filter(scope, tags, since, until)
        vector = self._vectors([text])[0]
        depth = max(RETRIEVAL_DEPTH, limit * 4)

        if row_filter.narrows:
            by_vector = self.store.nearest_filtered(vector, row_filter, depth)
        else:
            by_vector = self.store.nearest(vector, row_filter.scopes, depth)
        match = full_text_query(text)
        by_text = self.store.full_text(match, row_filter, depth) if match else []

        fused = reciprocal_rank_fusion([[rowid for rowid, _ in by_vector], [rowid for rowid, _ in by_text]])
        top = fused[:limit]
        rows = self.store.get_by_rowids([rowid for rowid, _ in top])
        similarity = {rowid: 1.0 - distance for rowid, distance in by_vector}
        hits = [
            RecallHit(
                **to_memory(rows[rowid]).model_dump(),
                score=round(score, 6),
                similarity=None if rowid not in similarity else round(similarity[rowid], 4),
            )
            for rowid, score in top
            if rowid in rows
        ]
        return RecallResult(query=text, scopes=list(row_filter.scopes), hits=hits)

    # -- forget, list, history, stats ----------------------------------------------------

    def forget(self, ids: Sequence[str], *, actor: str = "api") -> ForgetResult:
        if isinstance(ids, str):
            ids = [ids]
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            raise InvalidInput("ids is empty; pass the ids of the memories to forget (recall shows them).")
        found = self.store.get_by_ids(wanted)
        missing = [memory_id for memory_id in wanted if memory_id not in found]
        if missing:
            raise NotFound(
                f"no memory has the id {', '.join(repr(m) for m in missing)}; nothing was forgotten. "
                "Use recall or list to find the right ids."
            )
        self.store.delete(
            [found[memory_id] for memory_id in wanted], check.timestamp(datetime.now(UTC)), actor
        )
        return ForgetResult(forgotten=wanted)

    def list_memories(
        self,
        scope: str | Sequence[str] | None = None,
        tags: Iterable[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Memory]:
        check.check_limit(limit, 1, 10_000)
        row_filter = self._row_filter(scope, tags, since, until)
        return [to_memory(row) for row in self.store.list_rows(row_filter, limit, max(0, offset))]

    def history(self, memory_id: str | None = None, limit: int = 100) -> list[HistoryEvent]:
        return [
            HistoryEvent(
                id=event_id,
                memory_id=mid,
                event=event,
                at=datetime.fromisoformat(at),
                actor=actor,
                details=json.loads(details),
            )
            for event_id, mid, event, at, actor, details in self.store.history(memory_id, limit)
        ]

    def stats(self) -> StoreStats:
        counts = self.store.counts()
        path = Path(self.store.path)
        size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        return StoreStats(
            db_path=str(path),
            memories=counts["memories"],
            scopes=[ScopeStats(scope=s, memories=n) for s, n in self.store.scope_counts().items()],
            embedding_model=self.store.get_meta("embedding_model") or self.embedder.name,
            embedding_dim=int(self.store.get_meta("embedding_dim") or self.embedder.dim),
            history_events=counts["history"],
            file_bytes=size,
            schema_version=self.store.schema_version(),
        )

    # -- export, import, reembed ------------------------------------------------------------

    def export(self) -> Iterator[ExportRecord]:
        """Every memory with the sightings that a round trip must keep, oldest first."""
        for row in self.store.iter_rows():
            sightings = [
                Sighting(seen_at=datetime.fromisoformat(at), metadata=meta)
                for at, meta in self.store.sightings(row.rowid)
            ]
            yield ExportRecord(**to_memory(row).model_dump(), sightings=sightings)

    def import_records(
        self,
        records: Iterable[ExportRecord],
        *,
        actor: str = "import",
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Store memories exactly as given (ids, timestamps); ids already present are skipped."""
        imported = skipped = 0
        batch: list[ExportRecord] = []

        def flush() -> None:
            nonlocal imported, skipped
            present = self.store.existing_ids([m.id for m in batch])
            fresh = list({m.id: m for m in batch if m.id not in present}.values())
            skipped += len(batch) - len(fresh)
            vectors = self._vectors([m.content for m in fresh]) if fresh else []
            with self.store.transaction():
                for memory, vector in zip(fresh, vectors, strict=True):
                    rowid = self.store.insert(
                        self._record_for_import(memory), vector, actor, event="imported"
                    )
                    self.store.insert_sightings(
                        rowid, [(check.timestamp(s.seen_at), s.metadata) for s in memory.sightings]
                    )
            imported += len(fresh)
            if progress is not None:
                progress(len(batch))
            batch.clear()

        for memory in records:
            batch.append(memory)
            if len(batch) >= IMPORT_BATCH:
                flush()
        if batch:
            flush()
        return ImportReport(imported=imported, skipped_existing=skipped)

    def _record_for_import(self, memory: Memory) -> NewMemory:
        text = check.check_content(memory.content, self.settings)
        return NewMemory(
            id=memory.id,
            content=text,
            content_hash=check.content_hash(text),
            scope=check.check_scope(memory.scope),
            tags=check.check_tags(memory.tags, self.settings),
            metadata=check.check_metadata(memory.metadata, self.settings),
            created_at=check.timestamp(memory.created_at),
            updated_at=check.timestamp(memory.updated_at),
            seen_count=memory.seen_count,
            last_seen_at=None if memory.last_seen_at is None else check.timestamp(memory.last_seen_at),
        )

    def reembed(self, progress: Callable[[int], None] | None = None) -> int:
        """Re-embed every memory with the configured model, replacing all vectors at once."""

        def vectors() -> Iterator[tuple[int, str, bytes]]:
            batch: list[MemoryRow] = []
            for row in self.store.iter_rows():
                batch.append(row)
                if len(batch) >= IMPORT_BATCH:
                    yield from zip_rows(batch)
            yield from zip_rows(batch)

        def zip_rows(batch: list[MemoryRow]) -> Iterator[tuple[int, str, bytes]]:
            if batch:
                for row, vector in zip(batch, self._vectors([r.content for r in batch]), strict=True):
                    yield row.rowid, row.scope, vector
                if progress is not None:
                    progress(len(batch))
                batch.clear()

        rows = list(vectors())
        self.store.replace_vector_table(self.embedder.name, self.embedder.dim, iter(rows))
        return len(rows)
