"""Second looks: the review of memories the fallback stored, and undo of one decision."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

from remembrancer import validation as check
from remembrancer.curation import Curator, call_with_deadline
from remembrancer.dedup import Decision
from remembrancer.errors import InvalidInput, JudgeUnavailable, NotFound
from remembrancer.models import ReviewReport, UndoResult
from remembrancer.storage.rows import MemoryRow

log = logging.getLogger(__name__)


def review_pending(curator: Curator, limit: int = 50, actor: str = "review") -> ReviewReport:
    """Put memories stored by the fallback before the LLM judge; stop at the first LLM failure."""
    llm = curator.llm
    if llm is None:
        raise InvalidInput(
            "no LLM is configured: set ANTHROPIC_API_KEY, or REMEMBRANCER_LLM_PROVIDER=openai with"
            " REMEMBRANCER_LLM_BASE_URL and REMEMBRANCER_LLM_MODEL, to review memories with the LLM judge."
        )
    store = curator.store
    reviewed = changed = 0
    error: str | None = None
    for row in store.pending_review(limit):
        vector = curator.embed([row.content])[0]
        candidates = curator.candidates(vector, row.scope, exclude=row.id)
        now = check.timestamp(datetime.now(UTC))
        best = max((candidate.similarity for candidate in candidates), default=-1.0)
        if best < curator.settings.llm_min_similarity:
            store.settle_review(row, now, actor, {"decision": "add", "reason": "no similar memory"})
            reviewed += 1
            continue
        try:
            budget = curator.settings.llm_budget
            decision = call_with_deadline(partial(llm.decide, row.content, candidates), budget)
        except JudgeUnavailable as exc:
            error = str(exc)
            break
        decision = curator.not_a_duplicate_if_new(decision, row.content, candidates)
        if curator.live_targets(decision) is None:
            store.settle_review(
                row, now, actor, {"decision": "add", "reason": "the named memory changed meanwhile"}
            )
            reviewed += 1
            continue
        if apply_second_look(curator, row, decision, now, actor):
            reviewed += 1
            changed += decision.action != "add"
    return ReviewReport(
        reviewed=reviewed, changed=changed, remaining=store.count_pending_review(), error=error
    )


def apply_second_look(curator: Curator, row: MemoryRow, decision: Decision, now: str, actor: str) -> bool:
    """The LLM's second look at a memory the fallback stored: it folds into, updates or
    supersedes what the decision names, or stays with the LLM's reading of what it changes.
    False when anything involved changed meanwhile (the next pass looks again)."""
    details = {
        "decision": decision.action,
        "judge": "llm",
        "model": decision.model,
        "reason": decision.reason,
        "shown": list(decision.shown),
    }
    targets = curator.store.get_by_ids(list(decision.target_ids))
    merged = decision.merged_text if decision.action == "update" else None
    merged_vector = curator.embed([merged])[0] if merged else None
    with curator.store.transaction():
        named = [targets[memory_id] for memory_id in decision.target_ids if memory_id in targets]
        if len(named) < len(decision.target_ids) or not all(
            curator.store.is_live(memory.rowid) for memory in [row, *named]
        ):
            return False
        folded = {**details, "decision": None}
        if decision.action in ("duplicate", "update"):
            target = named[0]
            if merged and merged_vector is not None:
                change = {
                    **details,
                    "previous": target.content,
                    "new": row.content,
                    "superseded": [row.id],
                }
                digest = check.content_hash(merged)
                curator.store.rewrite(target, merged, digest, merged_vector, ("updated", now, actor, change))
            curator.store.supersede([row], target.id, now, actor, {**folded, "by": target.id})
        elif decision.action == "supersede":
            curator.store.supersede(named, row.id, now, actor, {**folded, "by": row.id})
        else:  # the LLM's reading of what the fact changes replaces the local one
            conflicts = curator.store.get_by_ids([conflict.memory_id for conflict in decision.conflicts])
            links = [
                (conflicts[c.memory_id].rowid, c.change, c.guard)
                for c in decision.conflicts
                if c.memory_id in conflicts
            ]
            curator.store.replace_links(row, links, now)
        curator.store.settle_review(row, now, actor, details)
    return True


def can_undo(kind: str, details: Mapping[str, Any]) -> bool:
    """Whether ``undo`` takes an event of this kind: an update, a supersede, or the 'added' event
    of a memory that superseded or replaced (linked) older ones."""
    return kind in ("updated", "superseded") or (
        kind == "added" and bool(details.get("supersedes") or details.get("replaces"))
    )


def undo(curator: Curator, event_id: int, actor: str = "cli") -> UndoResult:
    """Revert one update, supersede or link: old text back, superseded memories back and the
    memory that superseded them removed, or memories marked outdated current again."""
    store = curator.store
    event = store.history_event(event_id)
    if event is None:
        raise NotFound(f"no history event {event_id}; `remembrancer history ID` lists a memory's events.")
    memory_id, kind = event.memory_id, event.event
    details: dict[str, Any] = json.loads(event.details)
    if store.was_reverted(event_id):  # first: undoing a supersede forgets the memory that made it
        raise InvalidInput(f"event {event_id} was already undone.")
    if not can_undo(kind, details):
        raise InvalidInput(
            f"event {event_id} is '{kind}'; only 'updated' and 'superseded' events (or the 'added' event"
            " of a memory that superseded or replaced others) can be undone. Use forget to remove a memory."
        )
    now = check.timestamp(datetime.now(UTC))
    if kind == "updated":
        return _undo_update(curator, event_id, memory_id, details, now, actor)
    if kind == "superseded" and details.get("decision") is not None:
        return undo(curator, int(details["decision"]), actor)
    if kind == "superseded":
        rows = store.get_by_ids([memory_id])
        if memory_id not in rows:
            raise NotFound(f"memory {memory_id} no longer exists; nothing to restore.")
        store.restore([rows[memory_id]], now, actor, {"event": event_id})
        return UndoResult(event=event_id, restored=[memory_id], removed=[])
    if details.get("supersedes"):
        return _undo_supersede(curator, event_id, memory_id, details, now, actor)
    return _undo_links(curator, event_id, memory_id, details, now, actor)


def _undo_links(
    curator: Curator, event_id: int, memory_id: str, details: dict[str, Any], now: str, actor: str
) -> UndoResult:
    """A memory judged to change older ones' values, told apart from them: the older ones are
    current again (no longer marked outdated in recall), and the memory stays."""
    store = curator.store
    rows = store.get_by_ids([memory_id])
    if memory_id not in rows:
        raise NotFound(f"memory {memory_id} was forgotten; its links went with it.")
    store.revert_links(rows[memory_id], now, actor, {"event": event_id})
    still = store.get_by_ids([str(older) for older in details["replaces"]])
    return UndoResult(
        event=event_id, restored=[older for older in details["replaces"] if older in still], removed=[]
    )


def _undo_update(
    curator: Curator, event_id: int, memory_id: str, details: dict[str, Any], now: str, actor: str
) -> UndoResult:
    store = curator.store
    rows = store.get_by_ids([memory_id])
    if memory_id not in rows or "previous" not in details:
        raise NotFound(f"memory {memory_id} was forgotten; its earlier text is gone with it.")
    previous = str(details["previous"])
    vector = curator.embed([previous])[0]
    back = store.get_by_ids(list(details.get("superseded", [])))
    reverted = ("reverted", now, actor, {"event": event_id})
    with store.transaction():
        store.rewrite(rows[memory_id], previous, check.content_hash(previous), vector, reverted)
        store.restore(list(back.values()), now, actor, {"event": event_id})
    return UndoResult(event=event_id, restored=[memory_id, *back], removed=[])


def _undo_supersede(
    curator: Curator, event_id: int, memory_id: str, details: dict[str, Any], now: str, actor: str
) -> UndoResult:
    store = curator.store
    old = [
        row
        for row in store.get_by_ids(list(details["supersedes"])).values()
        if row.superseded_by == memory_id
    ]
    # One transaction: a crash leaves the supersede whole or undone.
    removed = store.revert_supersede(old, memory_id, now, actor, {"event": event_id})
    return UndoResult(
        event=event_id, restored=[row.id for row in old], removed=[memory_id] if removed else []
    )


def run_review_loop(curator: Curator, interval: float, stop: Any) -> None:
    """Background pass: review pending memories every ``interval`` seconds until ``stop`` is set."""
    while not stop.wait(interval):
        try:
            if curator.store.count_pending_review():
                report = review_pending(curator)
                log.info("review: %s", report.model_dump())
        except Exception:  # the loop must outlive one bad pass
            log.exception("review pass failed")
