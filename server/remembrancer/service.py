"""MemoryService: the one place that combines the store, the embedder and the judges."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from remembrancer import moments, related_words, transfer
from remembrancer import validation as check
from remembrancer.changes import add_superseded
from remembrancer.config import Settings
from remembrancer.curation import Curator, Fact, call_with_deadline
from remembrancer.embeddings import Embedder
from remembrancer.errors import InvalidInput, JudgeUnavailable, NotFound
from remembrancer.llm_judge import LLMJudge, make_judge
from remembrancer.models import (
    ExportRecord,
    ForgetResult,
    HistoryEvent,
    ImportReport,
    Memory,
    RecallHit,
    RecallResult,
    RememberResult,
    ReviewReport,
    ScopeStats,
    StoreStats,
    UndoResult,
)
from remembrancer.query_dates import named_periods
from remembrancer.recall_lines import recall_lines
from remembrancer.retrieval import Asked, RetrievalMode, retrieve
from remembrancer.review import review_pending, run_review_loop, undo
from remembrancer.short_ids import whole_ids
from remembrancer.storage import Storage, open_store
from remembrancer.storage.rows import RowFilter, float32_bytes
from remembrancer.tokens import count_tokens
from remembrancer.transfer import to_memory

log = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"[.!?](?:\s+|$)")
#: The most history events one call returns.
MAX_HISTORY = 10_000


def looks_like_passage(text: str) -> bool:
    """Three or more real sentences, or long: worth splitting into facts before judging."""
    sentences = [part for part in _SENTENCE_END.split(text) if len(part.split()) >= 4]
    return len(sentences) >= 3 or len(text) > 400


def _within_budget(
    hits: list[RecallHit], max_tokens: int, notes: list[str], several_scopes: bool
) -> list[RecallHit]:
    """The best hits whose text, as the assistant reads it (a line a hit, and the notes), fits
    in ``max_tokens``: a prefix of the ranking, ended by the first hit that does not fit. The
    tokenizer splits at whitespace, so the text's tokens are the sum of its lines'. A budget
    smaller than the note saying so still gets the note."""
    empty, *note_lines = recall_lines([], notes, several_scopes)
    used = sum(count_tokens(line) for line in note_lines)
    costs = [count_tokens(line) for line in recall_lines(hits, [], several_scopes)[: len(hits)]]
    kept = 0
    while kept < len(hits) and used + costs[kept] <= max_tokens:
        used += costs[kept]
        kept += 1
    if kept < len(hits):
        while True:  # the note saying so must fit too, and with no hit, "no memories found"
            note = f"max_tokens {max_tokens}: the best {kept} of {len(hits)} hits fit"
            extra = count_tokens(f"note: {note}") + (count_tokens(empty) if kept == 0 else 0)
            if kept == 0 or used + extra <= max_tokens:
                break
            kept -= 1
            used -= costs[kept]
        notes.append(note)
    return hits[:kept]


class MemoryService:
    def __init__(
        self, store: Storage, embedder: Embedder, settings: Settings, llm: LLMJudge | None = None
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.curator = Curator(store, self._vectors, settings, llm)
        self._stop_review = threading.Event()
        # A recall's vector search runs beside its full-text query: numpy and SQLite both let
        # go of the GIL, so on two cores a recall costs about the slower of the two, not both.
        self._vector_search = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vector-search")

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder, *, bind_model: bool = True) -> MemoryService:
        store = open_store(settings.db_path, busy_timeout=settings.busy_timeout)
        if bind_model:
            try:
                store.bind_embedding_model(embedder.name, embedder.dim)
            except BaseException:
                store.close()
                raise
        llm = make_judge(settings)
        return cls(store, embedder, settings, llm)

    def close(self) -> None:
        self._stop_review.set()
        self._vector_search.shutdown(wait=True)
        self.store.close()

    def start_background_work(self) -> None:
        """Load the vector copy and the related words and warm the LLM client; every
        review_interval seconds review fallback-stored memories."""
        threading.Thread(target=self.store.warm_up, name="vector-warm-up", daemon=True).start()
        threading.Thread(target=related_words.load, name="related-words-load", daemon=True).start()
        if self.curator.llm is not None:
            threading.Thread(target=self.curator.llm.warm_up, name="llm-warm-up", daemon=True).start()
        if self.curator.llm is not None and self.settings.review_interval > 0:
            threading.Thread(
                target=run_review_loop,
                args=(self.curator, self.settings.review_interval, self._stop_review),
                name="memory-review",
                daemon=True,
            ).start()

    def _vectors(self, texts: Sequence[str]) -> list[bytes]:
        return [float32_bytes(vector) for vector in self.embedder.embed(texts)]

    def embed_one(self, text: str) -> bytes:
        return self._vectors([text])[0]

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
        occurred_at: datetime | str | None = None,
    ) -> RememberResult:
        text = check.check_content(content, self.settings)
        fact = Fact(
            text=text,
            tags=check.check_tags(tags, self.settings),
            metadata=check.check_metadata(metadata, self.settings),
            scope=check.check_scope(self.settings.default_scope if scope is None else scope),
            actor=actor,
            created_at=None if created_at is None else check.timestamp(created_at),
            occurred_at=None
            if occurred_at is None
            else check.timestamp(self._moment(occurred_at, "occurred_at")),
        )
        started = time.monotonic()
        llm = self.curator.llm
        if llm is None or not looks_like_passage(text):
            return RememberResult.single(self.curator.remember_fact(fact, started + self.settings.llm_budget))
        # A passage gets one budget for splitting and another shared by all its facts' judgements.
        try:
            facts = call_with_deadline(lambda: llm.split(text, datetime.now(UTC)), self.settings.llm_budget)
        except JudgeUnavailable as exc:
            log.warning("could not split the passage, storing it whole: %s", exc)
            return RememberResult.single(self.curator.remember_fact(fact, time.monotonic()))
        deadline = time.monotonic() + self.settings.llm_budget
        outcomes = []
        for part in facts:
            try:
                piece = check.check_content(part, self.settings)
            except InvalidInput:
                continue
            outcomes.append(self.curator.remember_fact(replace(fact, text=piece), deadline))
        if not outcomes:
            return RememberResult.single(self.curator.remember_fact(fact, deadline))
        return RememberResult(
            status="split",
            facts=outcomes,
            judge="llm",
            model=llm.model,
            reason=f"split into {len(outcomes)} facts",
        )

    def review(self, limit: int = 50, *, actor: str = "review") -> ReviewReport:
        return review_pending(self.curator, limit, actor)

    def undo(self, event_id: int, *, actor: str = "cli") -> UndoResult:
        return undo(self.curator, event_id, actor)

    # -- recall ---------------------------------------------------------------------------

    def _empty_scopes(self, scopes: Sequence[str]) -> list[str]:
        return [
            name
            for name in scopes
            if name != self.settings.default_scope and not self.store.scope_exists(name)
        ]

    def _row_filter(
        self,
        scope: str | Sequence[str] | None,
        tags: Iterable[str] | None,
        since: datetime | str | None,
        until: datetime | str | None,
        include_superseded: bool = False,
    ) -> RowFilter:
        scopes = check.check_scopes(scope, self.settings.default_scope)
        for name in self._empty_scopes(scopes):
            known = ", ".join(self.store.scope_counts()) or "none yet"
            raise NotFound(
                f"scope {name!r} holds no memories (known scopes: {known}). Check the name, "
                "or remember something with this scope first."
            )
        return self.filter_rows(scopes, tags, since, until, include_superseded)

    def _moment(
        self, value: datetime | str, name: str, *, end: bool = False, notes: list[str] | None = None
    ) -> datetime:
        """A time given as a datetime, ISO 8601 text or a relative form, read in the set zone."""
        if isinstance(value, datetime):
            return value
        if not isinstance(value, str):
            raise InvalidInput(
                f"{name} must be a time as text, {moments.EXAMPLES}; got {type(value).__name__}."
            )
        try:
            moment = moments.resolve(value, zone=self.settings.zone, end=end)
        except InvalidInput as exc:
            raise InvalidInput(f"{name}: {exc}") from None
        if notes is not None and value.strip() != moment.isoformat():
            zone = moments.zone_name(self.settings.zone)
            notes.append(f"{name} {value.strip()!r} read as {moment.isoformat(timespec='seconds')} ({zone})")
        return moment

    def filter_rows(
        self,
        scopes: tuple[str, ...],
        tags: Iterable[str] | None,
        since: datetime | str | None,
        until: datetime | str | None,
        include_superseded: bool,
        notes: list[str] | None = None,
    ) -> RowFilter:
        start, end = check.check_time_range(
            None if since is None else self._moment(since, "since", notes=notes),
            None if until is None else self._moment(until, "until", end=True, notes=notes),
        )
        tag_list = tuple(check.check_tags(tags, self.settings))
        return RowFilter(scopes, tag_list, start, end, include_superseded)

    def recall(
        self,
        query: str,
        limit: int = 5,
        tags: Iterable[str] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        scope: str | Sequence[str] | None = None,
        include_superseded: bool = False,
        max_tokens: int | None = None,
        min_score: float | None = None,
        *,
        mode: RetrievalMode = "hybrid",
    ) -> RecallResult:
        """``mode`` other than hybrid is for measuring each side alone (bench/locomo.py)."""
        text = check.check_query(query)
        check.check_limit(limit)
        if max_tokens is not None:
            check.check_limit(max_tokens, 1, 1_000_000, name="max_tokens")
        # Every named scope is searched; one that holds nothing yet is a note, not an error, so
        # ["my-project", "default"] still answers from "default" before the project has memories.
        scopes = check.check_scopes(scope, self.settings.default_scope)
        empty = self._empty_scopes(scopes)
        notes = [f"scope {name!r} holds no memories yet" for name in empty]
        row_filter = self.filter_rows(scopes, tags, since, until, include_superseded, notes)
        floor = self.settings.min_score if min_score is None else check.check_score(min_score)
        periods = named_periods(text, self.settings.zone)
        asked = Asked(text, lambda: self._vectors([text])[0], row_filter, floor, periods, mode)
        found = retrieve(self.store, self._vector_search.submit, asked, limit)
        if not found.order and len(empty) < len(scopes):
            notes.append(f"no memory scores {floor:g} or more for this query (min_score)")
        rows = self.store.get_by_rowids([*found.order, *found.changes.rowids])
        fields = [
            {
                **to_memory(rows[rowid]).model_dump(),
                "score": round(found.scores[rowid], 3),
                "similarity": None if rowid not in found.cosine else round(found.cosine[rowid], 3),
                **found.changes.describe(rowid, rows),
            }
            for rowid in found.order
            if rowid in rows
        ]
        add_superseded(fields, self.store)
        hits = [RecallHit(**hit) for hit in fields]
        if max_tokens is not None:
            hits = _within_budget(hits, max_tokens, notes, len(row_filter.scopes) > 1)
        return RecallResult(query=text, scopes=list(row_filter.scopes), hits=hits, notes=notes)

    # -- forget, list, history, stats ----------------------------------------------------

    def forget(
        self, ids: Sequence[str], *, actor: str = "api", scopes: Sequence[str] | None = None
    ) -> ForgetResult:
        """Remove memories by id; with ``scopes``, a memory outside them counts as unknown."""
        if isinstance(ids, str):
            ids = [ids]
        wanted = list(dict.fromkeys(check.check_lookup_id(memory_id) for memory_id in ids))
        if not wanted:
            raise InvalidInput("ids is empty; pass the ids of the memories to forget (recall shows them).")
        wanted = list(dict.fromkeys(whole_ids(self.store, wanted, scopes)))
        found = {
            memory_id: row
            for memory_id, row in self.store.get_by_ids(wanted).items()
            if scopes is None or row.scope in scopes
        }
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
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 50,
        offset: int = 0,
        include_superseded: bool = False,
    ) -> list[Memory]:
        check.check_limit(limit, 1, 10_000)
        row_filter = self._row_filter(scope, tags, since, until, include_superseded)
        return [to_memory(row) for row in self.store.list_rows(row_filter, limit, max(0, offset))]

    def history(self, memory_id: str | None = None, limit: int = 100) -> list[HistoryEvent]:
        """A memory's events (a forgotten one keeps them), or the latest of every memory."""
        check.check_limit(limit, 1, MAX_HISTORY)
        if memory_id is not None:
            check.check_lookup_id(memory_id)
            memory_id = whole_ids(self.store, [memory_id], undone="no history is shown")[0]
        events = [
            HistoryEvent.model_validate({**row._asdict(), "details": json.loads(row.details)})
            for row in self.store.history(memory_id, limit)
        ]
        if memory_id is not None and not events:
            raise NotFound(
                f"no memory has the id {memory_id!r}, and no history names it."
                " Use list or recall to find ids."
            )
        return events

    def stats(self) -> StoreStats:
        counts = self.store.counts()
        return StoreStats(
            db_path=self.store.path,
            memories=counts["memories"],
            scopes=[ScopeStats(scope=s, memories=n) for s, n in self.store.scope_counts().items()],
            embedding_model=self.store.get_meta("embedding_model") or self.embedder.name,
            embedding_dim=int(self.store.get_meta("embedding_dim") or self.embedder.dim),
            history_events=counts["history"],
            file_bytes=self.store.file_bytes(),
            schema_version=self.store.schema_version(),
        )

    # -- export, import, reembed ------------------------------------------------------------

    def export(self) -> Iterator[ExportRecord]:
        return transfer.export_records(self.store)

    def check_import(self, records: Sequence[ExportRecord]) -> None:
        """Raise InvalidInput, naming the record, if any record would be refused on import."""
        transfer.check_records(records, self.settings, self.store)

    def import_records(
        self,
        records: Iterable[ExportRecord],
        *,
        actor: str = "import",
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        return transfer.import_records(
            self.store, self._vectors, self.settings, records, actor=actor, progress=progress
        )

    def reembed(self, progress: Callable[[int], None] | None = None) -> int:
        return transfer.reembed(self.store, self._vectors, self.embedder.name, self.embedder.dim, progress)
