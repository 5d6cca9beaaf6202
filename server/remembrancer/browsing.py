"""What the memory browser asks of the store: pages of memories, one memory whole, a person's
edits and review decisions, and the counts behind the stats page. Every call takes the scopes
its caller may see (None: every scope); a memory outside them is as unknown as a missing one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from remembrancer import validation as check
from remembrancer.changes import changes_of
from remembrancer.errors import InvalidInput, NotFound
from remembrancer.models import HistoryEvent, Memory, Sighting
from remembrancer.review import can_undo
from remembrancer.service import MemoryService
from remembrancer.storage.rows import MemoryRow, RowFilter
from remembrancer.transfer import to_memory

Status = Literal["live", "superseded", "review", "all"]
PAGE_SIZE = 50
#: A search lists weaker matches than an assistant gets, but not those with nothing in common.
SEARCH_FLOOR = 0.01
DECISIONS = {"added": "added", "seen": "duplicate", "updated": "updated", "superseded": "superseded"}


class Listed(Memory):
    """A memory as a row of the list: its standing, and its score when the list is a search."""

    status: Literal["live", "superseded", "review"]
    score: float | None = None
    newer: str | None = Field(default=None, description="A live memory that changed this one's value.")


class Browse(BaseModel):
    """What a person asks the list for; empty fields filter nothing."""

    q: str = ""
    scope: str = ""
    tag: str = ""
    since: str = ""
    until: str = ""
    status: Status = Field(default="live", description="live: not superseded (waiting for review included).")
    before: int | None = Field(default=None, ge=0, description="The page's key: memories stored before it.")


class Page(BaseModel):
    memories: list[Listed]
    next_before: int | None = Field(default=None, description="The next page's key; None on the last.")
    scopes: list[str] = Field(description="Every scope the caller may see, for the filter.")
    notes: list[str] = Field(default_factory=list)
    floor: float = Field(
        description="The relevance floor of an assistant's recall; a search lists hits below it too."
    )


class Related(BaseModel):
    id: str
    content: str
    relation: str


class MemoryView(BaseModel):
    memory: Listed
    history: list[HistoryEvent]
    undoable: int | None = Field(
        description="The one event undo is offered for: the latest change, if it is an update, a"
        " supersede or a link to older values not undone yet. An older one would silently discard"
        " the changes after it."
    )
    sightings: list[Sighting]
    related: list[Related] = Field(description="What it superseded or was superseded by, and value changes.")


class Activity(BaseModel):
    """The stats page: memories stored per month and scope, decisions by kind, sizes."""

    months: list[str]
    per_scope: dict[str, list[int]]
    decisions: dict[str, int]
    memories: int
    history_events: int
    waiting_for_review: int | None = Field(description="None for a token limited to some scopes.")
    file_bytes: int | None = Field(
        description="The whole store's size; None for a token limited to some scopes."
    )


def _status(row: MemoryRow) -> Literal["live", "superseded", "review"]:
    if row.superseded_by is not None:
        return "superseded"
    return "review" if row.needs_review else "live"


def listed(row: MemoryRow, score: float | None = None, newer: str | None = None) -> Listed:
    return Listed(**to_memory(row).model_dump(), status=_status(row), score=score, newer=newer)


class Browser:
    def __init__(self, service: MemoryService) -> None:
        self.service = service
        self.store = service.store

    @property
    def floor(self) -> float:
        return self.service.settings.min_score

    def visible_scopes(self, allowed: Sequence[str] | None) -> list[str]:
        known = self.store.scope_names()
        return known if allowed is None else [name for name in known if name in allowed]

    def _scopes(self, wanted: str, visible: list[str], allowed: Sequence[str] | None) -> list[str]:
        if not wanted:
            return visible
        name = check.check_scope(wanted)
        if allowed is not None and name not in allowed:
            raise InvalidInput(f"scope {name!r} is not one you may see; choose one of: {', '.join(allowed)}.")
        return [name] if name in visible else []

    def page(self, asked: Browse, allowed: Sequence[str] | None) -> Page:
        visible = self.visible_scopes(allowed)
        scopes = self._scopes(asked.scope, visible, allowed)
        if not scopes:
            return Page(
                memories=[], scopes=visible, notes=["no memories in this scope yet"], floor=self.floor
            )
        tags = [asked.tag] if asked.tag else None
        if asked.q.strip():
            return self._search(asked, scopes, tags, visible)
        row_filter = self.service.filter_rows(
            tuple(scopes), tags, asked.since or None, asked.until or None, asked.status == "all"
        )
        if asked.status in ("superseded", "review"):
            row_filter = replace(row_filter, only=asked.status)
        rows = self.store.page_rows(row_filter, PAGE_SIZE + 1, asked.before)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        newer = self._newer_versions(rows, row_filter)
        return Page(
            memories=[listed(row, newer=newer.get(row.rowid)) for row in rows],
            next_before=rows[-1].rowid if more else None,
            scopes=visible,
            floor=self.floor,
        )

    def _newer_versions(self, rows: list[MemoryRow], row_filter: RowFilter) -> dict[int, str]:
        """The id of a live memory (of the scopes shown) that changed each row's value: what
        recall names as an outdated hit's ``replaced_by``."""
        changes = changes_of(self.store, [row.rowid for row in rows], row_filter)
        newer = self.store.get_by_rowids(list(changes.live_newer)) if changes.live_newer else {}
        found = {row.rowid: changes.describe(row.rowid, newer)["replaced_by"] for row in rows}
        return {rowid: linked.id for rowid, linked in found.items() if linked is not None}

    def _search(self, asked: Browse, scopes: list[str], tags: list[str] | None, visible: list[str]) -> Page:
        """The assistant's recall, down to SEARCH_FLOOR: a person scanning a list is helped by the
        weaker matches too (a paraphrase sharing no word often scores below the floor), and the
        page marks where the floor falls, which shows what an assistant would have received."""
        result = self.service.recall(
            asked.q,
            limit=PAGE_SIZE,
            tags=tags,
            since=asked.since or None,
            until=asked.until or None,
            scope=scopes,
            include_superseded=asked.status in ("superseded", "all"),
            min_score=SEARCH_FLOOR,
        )
        rows = self.store.get_by_ids([hit.id for hit in result.hits])
        memories = [
            listed(rows[hit.id], hit.score, None if hit.replaced_by is None else hit.replaced_by.id)
            for hit in result.hits
            if hit.id in rows
        ]
        if asked.status != "all":  # a memory waiting for review is live too: recall finds it
            wanted = ("live", "review") if asked.status == "live" else (asked.status,)
            memories = [memory for memory in memories if memory.status in wanted]
        notes = [note for note in result.notes if "min_score" not in note]
        return Page(memories=memories, scopes=visible, notes=notes, floor=self.floor)

    def _row(self, memory_id: str, allowed: Sequence[str] | None) -> MemoryRow:
        row = self.store.get_by_ids([memory_id]).get(memory_id)
        if row is None or (allowed is not None and row.scope not in allowed):
            raise NotFound(f"no memory has the id {memory_id!r}; it may have been forgotten.")
        return row

    def memory(self, memory_id: str, allowed: Sequence[str] | None) -> MemoryView:
        row = self._row(memory_id, allowed)
        related = [
            Related(id=older.id, content=older.content, relation="superseded by this memory")
            for older in self._rows([r.id for r in self.store.replaced_by([row.id])], allowed)
        ]
        if row.superseded_by is not None:
            newer = self._rows([row.superseded_by], allowed)
            related += [Related(id=m.id, content=m.content, relation="supersedes this memory") for m in newer]
        pairs = [
            (link, link.older if link.newer == row.rowid else link.newer)
            for link in self.store.links_touching([row.rowid])
        ]
        others = self.store.get_by_rowids([other for _, other in pairs])
        for link, other in pairs:
            found = others.get(other)
            if found is not None and (allowed is None or found.scope in allowed):
                when = "an earlier" if link.newer == row.rowid else "a later"
                related.append(
                    Related(id=found.id, content=found.content, relation=f"{when} value: {link.change}")
                )
        history = self.service.history(row.id, limit=500)
        return MemoryView(
            memory=listed(row),
            history=history,
            undoable=self._undoable(history),
            sightings=[
                Sighting(seen_at=datetime.fromisoformat(at), metadata=meta, content=content)
                for at, meta, content in self.store.sightings(row.rowid)
            ],
            related=related,
        )

    def _undoable(self, history: Sequence[HistoryEvent]) -> int | None:
        changes = [event for event in history if event.event not in ("seen", "reviewed")]
        if not changes:
            return None
        latest = changes[-1]
        undoable = can_undo(latest.event, latest.details) and not self.store.was_reverted(latest.id)
        return latest.id if undoable else None

    def _rows(self, ids: Sequence[str], allowed: Sequence[str] | None) -> list[MemoryRow]:
        found = self.store.get_by_ids(list(ids))
        return [row for row in found.values() if allowed is None or row.scope in allowed]

    def edit(self, memory_id: str, content: str, actor: str, allowed: Sequence[str] | None) -> bool:
        """New text for a memory, re-embedded, recorded as an update (undo puts the old text
        back); a person's edit also settles a review. False when the text is the same."""
        row = self._row(memory_id, allowed)
        # A browser sends a textarea's line breaks as CRLF: the text typed is the one with \n.
        text = check.check_content(content.replace("\r\n", "\n").replace("\r", "\n"), self.service.settings)
        if text == row.content:
            return False
        vector = self.service.embed_one(text)
        now = check.timestamp(datetime.now(UTC))
        details = {"previous": row.content, "new": text, "reason": "edited in the memory browser"}
        with self.store.transaction():
            current = self._row(memory_id, allowed)
            if current.content != row.content:
                raise InvalidInput(
                    "the memory changed while you edited it; reload the page and edit it again."
                )
            self.store.rewrite(
                current, text, check.content_hash(text), vector, ("updated", now, actor, details)
            )
            if current.needs_review:
                self.store.settle_review(
                    current, now, actor, {"reason": "edited by a person in the memory browser"}
                )
        return True

    def keep(self, memory_id: str, actor: str, allowed: Sequence[str] | None) -> None:
        """A person settles a memory waiting for review: it stays as it is."""
        row = self._row(memory_id, allowed)
        if not row.needs_review:
            raise InvalidInput(f"memory {memory_id} is not waiting for review.")
        now = check.timestamp(datetime.now(UTC))
        self.store.settle_review(row, now, actor, {"reason": "kept by a person in the memory browser"})

    def event_memory(self, event_id: int, allowed: Sequence[str] | None) -> str:
        """The memory an event belongs to, if the caller may see it (before undoing the event)."""
        event = self.store.history_event(event_id)
        row = None if event is None else self.store.get_by_ids([event.memory_id]).get(event.memory_id)
        if event is None or (allowed is not None and (row is None or row.scope not in allowed)):
            raise NotFound(f"no history event {event_id}.")  # the same answer: nothing of other scopes
        return event.memory_id

    def activity(self, allowed: Sequence[str] | None) -> Activity:
        scopes = None if allowed is None else list(allowed)
        counts = self.store.monthly_counts(scopes)
        months = _every_month(sorted({month for month, _, _ in counts}))
        column = {month: i for i, month in enumerate(months)}
        per_scope: dict[str, list[int]] = {}
        for month, scope, count in counts:
            per_scope.setdefault(scope, [0] * len(months))[column[month]] = count
        events = self.store.event_counts(scopes)
        return Activity(
            months=months,
            per_scope=per_scope,
            decisions={label: events.get(event, 0) for event, label in DECISIONS.items()},
            memories=sum(count for _, _, count in counts),
            history_events=sum(events.values()),
            waiting_for_review=self.store.count_pending_review() if allowed is None else None,
            file_bytes=self.store.file_bytes() if allowed is None else None,
        )

    def export_lines(self, allowed: Sequence[str] | None) -> Iterator[str]:
        """The export, a JSON line a memory, of the scopes the caller may see."""
        for record in self.service.export():
            if allowed is None or record.scope in allowed:
                yield record.model_dump_json() + "\n"  # as `remembrancer export` writes it


def _every_month(months: Sequence[str]) -> list[str]:
    """Every month from the first to the last ("YYYY-MM"), the empty ones too: an even axis."""
    if not months:
        return []
    first, last = (int(at[:4]) * 12 + int(at[5:7]) - 1 for at in (months[0], months[-1]))
    return [f"{index // 12:04d}-{index % 12 + 1:02d}" for index in range(first, last + 1)]
