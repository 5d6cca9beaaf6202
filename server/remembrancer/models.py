"""The shapes that cross module boundaries: tool results, CLI output, export lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

JsonObject = dict[str, Any]


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


class Sighting(BaseModel):
    """A later remember call that brought a fact already stored."""

    seen_at: datetime
    metadata: JsonObject = Field(default_factory=dict)


class ExportRecord(Memory):
    """One line of an export: a memory with the sightings a round trip must keep."""

    sightings: list[Sighting] = Field(default_factory=list)


class RememberResult(BaseModel):
    """What remember did with the content."""

    status: Literal["added", "duplicate"] = Field(
        description="'added': stored as a new memory. 'duplicate': already known; nothing new stored."
    )
    memory: Memory = Field(description="The new memory, or the one already holding this fact.")
    duplicate_of: str | None = Field(default=None, description="For a duplicate, the id of the memory kept.")
    matched_by: Literal["hash", "similarity"] | None = Field(
        default=None, description="How the duplicate was recognised: identical text or close meaning."
    )
    similarity: float | None = Field(default=None, description="Cosine similarity to the duplicate.")


class RecallHit(Memory):
    """A memory with how well it matched the query."""

    score: float = Field(description="Fused relevance; higher is better; comparable within one answer.")
    similarity: float | None = Field(default=None, description="Cosine similarity of meaning, if known.")


class RecallResult(BaseModel):
    query: str
    scopes: list[str]
    hits: list[RecallHit] = Field(description="Best first.")


class ForgetResult(BaseModel):
    forgotten: list[str] = Field(description="The ids removed, with their text, vectors and index entries.")


class HistoryEvent(BaseModel):
    id: int
    memory_id: str
    event: Literal["added", "seen", "updated", "forgotten", "imported", "reembedded"]
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


class ImportReport(BaseModel):
    imported: int
    skipped_existing: int
