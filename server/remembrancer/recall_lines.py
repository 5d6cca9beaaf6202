"""A recall as an assistant reads it: one line a hit, then the notes. The service budgets
``max_tokens`` on these lines, and the tools send them as their text content."""

from __future__ import annotations

from collections.abc import Sequence

from remembrancer.models import RecallHit
from remembrancer.short_ids import short_id


def hit_line(hit: RecallHit, several_scopes: bool) -> str:
    where = f" {hit.scope}" if several_scopes else ""
    when = hit.occurred_at or hit.created_at
    line = f"{short_id(hit.id)} {when:%Y-%m-%d}{where} {hit.score:.2f}: {hit.content}"
    for older in hit.replaces:
        line += f" [replaces {short_id(older.id)}: {older.change}]"
    if hit.replaced_by is not None:
        line += f" [outdated: {short_id(hit.replaced_by.id)} is newer: {hit.replaced_by.change}]"
    return line


def recall_lines(hits: Sequence[RecallHit], notes: Sequence[str], several_scopes: bool) -> list[str]:
    lines = [hit_line(hit, several_scopes) for hit in hits] or ["no memories found"]
    return [*lines, *(f"note: {note}" for note in notes)]
