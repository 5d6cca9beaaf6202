"""MemoryService on a real SQLite file with sqlite-vec, with the fake embedder for speed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conftest import FakeEmbedder
from remembrancer.config import Settings
from remembrancer.errors import InvalidInput, NotFound
from remembrancer.service import MemoryService


def test_remember_adds_and_returns_the_stored_memory(service: MemoryService) -> None:
    result = service.remember("The user prefers tabs", tags=["Preference"], metadata={"source": "chat"})
    assert result.status == "added"
    memory = result.memory
    assert memory is not None
    assert memory.id.startswith("m_")
    assert memory.content == "The user prefers tabs"
    assert memory.tags == ["preference"]
    assert memory.metadata == {"source": "chat"}
    assert memory.scope == "default"
    assert memory.created_at.tzinfo is not None
    assert service.stats().memories == 1


def test_exact_duplicate_is_answered_by_hash_without_an_embedding(
    service: MemoryService, fake_embedder: FakeEmbedder
) -> None:
    first = service.remember("I live in Berlin", metadata={"source": "a"})
    assert first.memory is not None
    embedded = fake_embedder.texts_embedded
    again = service.remember("  i LIVE in   berlin ", metadata={"source": "b"})
    assert fake_embedder.texts_embedded == embedded
    assert again.status == "duplicate"
    assert again.matched_by == "hash"
    assert again.duplicate_of == first.memory.id
    assert again.memory is not None
    assert again.memory.seen_count == 2
    assert again.memory.last_seen_at is not None
    assert service.stats().memories == 1
    row = service.store.get_by_ids([first.memory.id])[first.memory.id]
    assert service.store.sightings(row.rowid)[0][1:] == ({"source": "b"}, None)
    assert [e.event for e in service.history(first.memory.id)] == ["added", "seen"]


def test_near_duplicate_is_recognised_by_similarity(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    svc = MemoryService.open(settings.with_overrides(duplicate_threshold=0.9), fake_embedder)
    try:
        first = svc.remember("Berlin is where I live")
        assert first.memory is not None
        # Same words, another order: the bag-of-words fake gives the same vector, not the same hash.
        second = svc.remember("I live where Berlin is")
        assert second.status == "duplicate"
        assert second.matched_by == "similarity"
        assert second.duplicate_of == first.memory.id
        assert second.similarity is not None and second.similarity >= 0.9
        row = svc.store.get_by_ids([first.memory.id])[first.memory.id]
        assert svc.store.sightings(row.rowid)[0][2] == "I live where Berlin is"  # the wording is kept
        different = svc.remember("I like pizza with anchovies")
        assert different.status == "added"
        assert svc.stats().memories == 2
    finally:
        svc.close()


def test_same_text_in_another_scope_is_a_separate_memory(service: MemoryService) -> None:
    a = service.remember("Use ruff for linting", scope="project-a")
    b = service.remember("Use ruff for linting", scope="project-b")
    assert a.status == b.status == "added"
    assert a.memory is not None and b.memory is not None
    assert a.memory.id != b.memory.id


def test_recall_ranks_relevant_memories_first(service: MemoryService) -> None:
    service.remember("I live in Berlin")
    service.remember("My favourite food is pizza")
    service.remember("The project uses PostgreSQL 16")
    result = service.recall("which database does the project use", limit=2, min_score=0)
    assert result.hits[0].content == "The project uses PostgreSQL 16"
    assert len(result.hits) == 2
    assert result.hits[0].score >= result.hits[1].score
    # With the default floor, only the memory about the query is returned.
    assert [hit.content for hit in service.recall("which database does the project use").hits] == [
        "The project uses PostgreSQL 16"
    ]


def test_recall_never_crosses_scopes_unless_asked(service: MemoryService) -> None:
    service.remember("Deploys go through GitHub Actions", scope="project-x")
    service.remember("Deploys are done by hand on Fridays")
    default_only = service.recall("how are deploys done")
    assert {hit.scope for hit in default_only.hits} == {"default"}
    both = service.recall("how are deploys done", scope=["project-x", "default"])
    assert {hit.scope for hit in both.hits} == {"default", "project-x"}
    assert both.scopes == ["project-x", "default"]


def test_recall_filters_by_tags_and_time(service: MemoryService) -> None:
    old = service.remember("Old note about the coffee machine", tags=["office"])
    assert old.memory is not None
    service.remember("Coffee is best black", tags=["preference"])
    now = datetime.now(UTC)
    tagged = service.recall("coffee", tags=["office"])
    assert [hit.id for hit in tagged.hits] == [old.memory.id]
    assert service.recall("coffee", since=now + timedelta(seconds=5)).hits == []
    assert len(service.recall("coffee", until=now + timedelta(seconds=5)).hits) == 2
    assert len(service.recall("coffee", tags=["office", "preference"]).hits) == 0


def test_recall_handles_fts_syntax_in_queries(service: MemoryService) -> None:
    service.remember("Meeting notes: AND the NEAR future")
    for query in [
        '"unbalanced',
        "NEAR(a b)",
        "content: x*",
        "a OR (b AND NOT c",
        "'; drop table memories; --",
    ]:
        result = service.recall(query)
        assert result.query == query.strip()
    assert service.stats().memories == 1


def test_recall_of_an_empty_scope_is_a_note_and_the_other_scopes_still_answer(service: MemoryService) -> None:
    service.remember("something about the editor", scope="known")
    service.remember("the default scope's editor note")
    alone = service.recall("something", scope="nope")
    assert (alone.hits, alone.notes) == ([], ["scope 'nope' holds no memories yet"])
    both = service.recall("editor", scope=["nope", "known", "default"])
    assert {hit.scope for hit in both.hits} == {"known", "default"}
    assert both.notes == ["scope 'nope' holds no memories yet"]
    with pytest.raises(NotFound, match=r"'nope'.*known"):  # listing a scope that is not there stays an error
        service.list_memories(scope="nope")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"content": "   "}, "content is empty"),
        ({"content": "x" * 40_000}, "limit is 32768"),
        ({"content": "bad\x00byte"}, "U\\+0000"),
        ({"content": "ok", "tags": ["not a valid tag!"]}, "tag 'not a valid tag!'"),
        ({"content": "ok", "tags": "single"}, "list of strings"),
        ({"content": "ok", "scope": "../etc"}, "not a valid scope"),
        ({"content": "ok", "metadata": {"a": float("nan")}}, "not plain JSON"),
        ({"content": "ok", "metadata": {"x": "y" * 20_000}}, "metadata is"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    service: MemoryService, kwargs: dict[str, Any], message: str
) -> None:
    service.remember("keep me")
    with pytest.raises(InvalidInput, match=message):
        service.remember(**kwargs)
    assert [m.content for m in service.list_memories()] == ["keep me"]


def test_recall_limit_and_time_range_are_checked(service: MemoryService) -> None:
    for limit in (0, 51):
        with pytest.raises(InvalidInput, match="limit must be"):
            service.recall("x", limit=limit)
    with pytest.raises(InvalidInput, match="swap them"):
        service.recall("x", since=datetime(2025, 2, 1), until=datetime(2025, 1, 1))
    with pytest.raises(InvalidInput, match="query is empty"):
        service.recall("  ")


def test_forget_removes_memory_and_keeps_only_a_textless_history(service: MemoryService) -> None:
    keep = service.remember("keep this one")
    gone = service.remember("remove this one", metadata={"who": "me"})
    service.remember("remove this one", metadata={"who": "again"})
    assert keep.memory is not None and gone.memory is not None
    result = service.forget([gone.memory.id], actor="tester")
    assert result.forgotten == [gone.memory.id]
    assert [m.id for m in service.list_memories()] == [keep.memory.id]
    assert all(hit.id != gone.memory.id for hit in service.recall("remove this one").hits)
    events = service.history(gone.memory.id)
    assert [e.event for e in events] == ["added", "seen", "forgotten"]
    assert events[-1].actor == "tester"
    assert all(e.details == {} for e in events)
    counts = service.store.counts()
    assert counts["memories"] == counts["vectors"] == 1


def test_forget_unknown_id_names_it_and_removes_nothing(service: MemoryService) -> None:
    kept = service.remember("still here")
    assert kept.memory is not None
    with pytest.raises(NotFound, match="m_doesnotexist"):
        service.forget([kept.memory.id, "m_doesnotexist"])
    assert [m.id for m in service.list_memories()] == [kept.memory.id]


def test_reopen_after_restart_keeps_everything(settings: Settings) -> None:
    first = MemoryService.open(settings, FakeEmbedder())
    stored = first.remember("persisted across restarts", tags=["t"])
    assert stored.memory is not None
    first.close()
    second = MemoryService.open(settings, FakeEmbedder())
    try:
        hits = second.recall("persisted across restarts").hits
        assert hits[0].id == stored.memory.id
        assert hits[0].tags == ["t"]
    finally:
        second.close()
