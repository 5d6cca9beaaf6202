"""The shapes that cross module boundaries: tool results, CLI output, export lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

JsonObject = dict[str, Any]


def _time_as_text(value: Any) -> Any:
    """A time read from a file is ISO 8601 text: a bare number would be read as seconds since
    1970 and land the memory there without a word."""
    if isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 time string, e.g. 2026-12-01T09:30:00Z, not a number")
    return value


class Memory(BaseModel):
    """One stored fact."""

    id: str = Field(description="Stable id; pass it to forget.")
    content: str
    scope: str = Field(description="The scope the memory belongs to, e.g. 'default' or a project's name.")
    tags: list[str] = Field(default_factory=list)
    metadata: JsonObject = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    seen_count: int = Field(default=1, description="How many times this fact was remembered.")
    last_seen_at: datetime | None = None
    superseded_by: str | None = Field(default=None, description="Set when a newer memory replaced this one.")
    occurred_at: datetime | None = Field(
        default=None,
        description="When it happened (event time); tool results leave it out when it is created_at.",
    )


class Sighting(BaseModel):
    """A later remember call that brought a fact already stored."""

    seen_at: datetime
    metadata: JsonObject = Field(default_factory=dict)
    content: str | None = Field(default=None, description="The wording, when it was not identical.")

    _seen_at_as_text = field_validator("seen_at", mode="before")(_time_as_text)


class ExportRecord(Memory):
    """One line of an export: a memory with the sightings a round trip must keep."""

    sightings: list[Sighting] = Field(default_factory=list)
    replaces: list[str] = Field(
        default_factory=list, description="Ids of older memories whose value this one changed (both kept)."
    )

    _times_as_text = field_validator(
        "created_at", "updated_at", "last_seen_at", "occurred_at", mode="before"
    )(_time_as_text)


class Judgement(BaseModel):
    """Who decided what a new fact means, and what it touched."""

    duplicate_of: str | None = Field(default=None, description="For a duplicate, the id of the memory kept.")
    superseded: list[str] = Field(
        default_factory=list, description="Ids of memories this fact replaced (kept, but left out of recall)."
    )
    replaces: list[str] = Field(
        default_factory=list,
        description="Ids of older memories whose value this fact changed: both kept, recall puts this first.",
    )
    matched_by: Literal["hash", "similarity", "llm"] | None = Field(
        default=None,
        description="How a known fact was recognised: identical text, close meaning, or the LLM.",
    )
    similarity: float | None = Field(default=None, description="Cosine similarity to the memory matched.")
    judge: Literal["llm", "fallback"] = Field(
        default="fallback", description="'llm' (see model) or 'fallback', the local rules."
    )
    model: str | None = None
    reason: str = ""
    needs_review: bool = Field(
        default=False, description="Stored by the fallback while the LLM was unreachable; reviewed later."
    )


class FactOutcome(Judgement):
    status: Literal["added", "duplicate", "updated", "superseded"]
    memory: Memory = Field(description="The memory that now holds the fact.")


class RememberResult(Judgement):
    """What remember did with the content."""

    status: Literal["added", "duplicate", "updated", "superseded", "split"] = Field(
        description="'added': stored as new. 'duplicate': already known, nothing new stored. 'updated': "
        "an existing memory was refined. 'superseded': stored, replacing memories no longer true. "
        "'split': a passage was split into facts, each with its own outcome in 'facts'."
    )
    memory: Memory | None = Field(
        default=None, description="The memory now holding the fact (not for 'split')."
    )
    facts: list[FactOutcome] = Field(default_factory=list, description="For 'split': each fact's outcome.")

    @classmethod
    def single(cls, outcome: FactOutcome) -> RememberResult:
        return cls(**outcome.model_dump(exclude={"memory"}), memory=outcome.memory)


class LinkedMemory(BaseModel):
    """Another memory stating the same fact with a different value."""

    id: str
    created_at: datetime
    change: str = Field(description="What changed, e.g. 'value changed: 4411 → 9376'.")


class RecallHit(Memory):
    """A memory with how well it matched the query."""

    replaces: list[LinkedMemory] = Field(
        default_factory=list,
        description="Older memories stating an earlier value of this fact: this one is newer, trust it.",
    )
    replaced_by: LinkedMemory | None = Field(
        default=None,
        description="A newer memory states a changed value of this fact (recall puts it first): trust it.",
    )

    score: float = Field(
        description="Relevance, 0-1, on one scale for every query: 0.7 x the share of the query's words "
        "the memory holds (weighted by how rare each is) + 0.3 x closeness of meaning."
    )
    similarity: float | None = Field(default=None, description="Cosine similarity of meaning, if known.")


class RecallResult(BaseModel):
    query: str
    scopes: list[str]
    hits: list[RecallHit] = Field(description="Best first.")
    notes: list[str] = Field(default_factory=list, description="E.g. a named scope that holds nothing yet.")


class ForgetResult(BaseModel):
    forgotten: list[str] = Field(description="The ids removed, with their text, vectors and index entries.")


class HistoryEvent(BaseModel):
    id: int
    memory_id: str
    event: Literal["added", "seen", "updated", "superseded", "reviewed", "reverted", "forgotten", "imported"]
    at: datetime
    actor: str
    details: JsonObject = Field(default_factory=dict)


class ScopeStats(BaseModel):
    scope: str
    memories: int


class StoreStats(BaseModel):
    db_path: str
    memories: int
    scopes: list[ScopeStats]
    embedding_model: str
    embedding_dim: int
    history_events: int
    file_bytes: int
    schema_version: int


class ReviewReport(BaseModel):
    reviewed: int
    changed: int
    remaining: int
    error: str | None = None


class UndoResult(BaseModel):
    event: int
    restored: list[str] = Field(description="Memories whose text or standing was restored.")
    removed: list[str] = Field(description="Memories the undone decision had created, now removed.")


class ImportReport(BaseModel):
    imported: int
    skipped_existing: int


class CopyReport(BaseModel):
    """What `remembrancer copy` carried from one store to another."""

    source: str
    target: str
    memories: int
    history_events: int
    links: int
