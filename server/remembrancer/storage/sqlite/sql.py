"""Pieces of SQL the SQLite engine's modules share: the memory columns, placeholders, and the
search filter as a WHERE clause."""

from __future__ import annotations

from typing import Any

from remembrancer.storage.rows import RowFilter

# The order MemoryRow.from_tuple reads them in.
MEMORY_COLUMNS = (
    "rowid, id, content, content_hash, scope, tags, metadata, created_at, updated_at,"
    " seen_count, last_seen_at, superseded_by, needs_review, context_rowid, occurred_at"
)


def marks(count: int) -> str:
    return ", ".join("?" * count)


def where_clause(row_filter: RowFilter, alias: str = "m") -> tuple[str, list[Any]]:
    """The filter as a WHERE clause over ``memories`` (as ``alias``), with its parameters."""
    clauses = [f"{alias}.scope in ({marks(len(row_filter.scopes))})"]
    if row_filter.only == "superseded":
        clauses.append(f"{alias}.superseded_by is not null")
    elif not row_filter.include_superseded or row_filter.only == "review":
        clauses.append(f"{alias}.superseded_by is null")
    if row_filter.only == "review":
        clauses.append(f"{alias}.needs_review = 1")
    params: list[Any] = list(row_filter.scopes)
    if row_filter.since is not None:
        clauses.append(f"{alias}.occurred_at >= ?")
        params.append(row_filter.since)
    if row_filter.until is not None:
        clauses.append(f"{alias}.occurred_at <= ?")
        params.append(row_filter.until)
    for tag in row_filter.tags:
        clauses.append(
            f"exists (select 1 from memory_tags t where t.memory_rowid = {alias}.rowid and t.tag = ?)"
        )
        params.append(tag)
    return " and ".join(clauses), params
