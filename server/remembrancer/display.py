"""How the command line shows things to people (``--json`` bypasses all of this)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime

from remembrancer.models import FactOutcome, HistoryEvent, Memory, RecallHit


def when(moment: datetime) -> str:
    """A time as people read it: their local time, with its zone."""
    return f"{moment.astimezone():%Y-%m-%d %H:%M %Z}"


def describe(memory: Memory, score: float | None = None) -> str:
    tags = f" [{', '.join(memory.tags)}]" if memory.tags else ""
    lead = f"{score:.3f}  " if score is not None else ""
    happened = memory.occurred_at or memory.created_at
    return f"{lead}{memory.id}  ({memory.scope}, {when(happened)}){tags}\n    {memory.content}"


def describe_hit(hit: RecallHit) -> str:
    """A recall hit, with the other versions of its fact when it changed."""
    lines = [describe(hit, hit.score)]
    for older in hit.replaces:
        lines.append(f"    replaces {older.id} ({when(older.created_at)}): {older.change}")
    if hit.replaced_by is not None:
        newer = hit.replaced_by
        lines.append(f"    outdated: replaced by {newer.id} ({when(newer.created_at)}): {newer.change}")
    return "\n".join(lines)


def describe_outcome(outcome: FactOutcome) -> str:
    memory = outcome.memory
    judge = f"{outcome.judge}{' ' + outcome.model if outcome.model else ''}"
    text = {
        "added": f"added {memory.id}"
        + (f", replacing {', '.join(outcome.replaces)}" if outcome.replaces else ""),
        "duplicate": f"known as {memory.id} ({outcome.matched_by} match); seen {memory.seen_count} times",
        "updated": f"updated {memory.id}: {memory.content}",
        "superseded": f"added {memory.id}, superseding {', '.join(outcome.superseded)}",
    }[outcome.status]
    review = " (stored by the fallback; will be reviewed)" if outcome.needs_review else ""
    return f"{text} [{judge}: {outcome.reason}]{review}"


def describe_event(event: HistoryEvent) -> str:
    d = event.details
    line = f"{event.id:>6} {when(event.at)} {event.event:<10} {event.memory_id} by {event.actor}"
    if d.get("judge"):
        line += f"; {d['judge']}{' ' + d['model'] if d.get('model') else ''}: {d.get('reason', '')}"
    if event.event == "reverted" and d.get("event") is not None:
        line += f"; undid event {d['event']}"
    if d.get("by"):
        line += f"\n         superseded by {d['by']}"
    if d.get("supersedes"):
        line += f"\n         supersedes {', '.join(d['supersedes'])}"
    if "previous" in d:
        line += f"\n         was: {d['previous']}\n         now merged with: {d.get('new', '')}"
    return line


def progress_bar(total: int) -> Callable[[int], None] | None:
    if not sys.stderr.isatty() or total == 0:
        return None
    done = 0

    def advance(step: int) -> None:
        nonlocal done
        done += step
        width = 30
        filled = width * done // total
        print(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=sys.stderr, flush=True
        )
        if done >= total:
            print(file=sys.stderr)

    return advance
