"""Hybrid retrieval: fusion, memories found through the one stored beside them, and the pure pieces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conftest import stored_id
from remembrancer.retrieval import query_words
from remembrancer.service import MemoryService
from remembrancer.storage import Storage
from remembrancer.storage.rows import RowFilter
from remembrancer.storage.sqlite import text_index
from remembrancer.storage.sqlite.store import Store, sqlite_store
from remembrancer.storage.sqlite.text_index import affordable_words


def test_full_text_query_quotes_every_word_and_drops_stop_words() -> None:
    def full_text_query(text: str) -> str | None:
        return text_index.match_expression(query_words(text))

    assert full_text_query('What did "Anna" say about NEAR(x*)?') == '"anna" OR "say" OR "near" OR "x"'
    assert full_text_query("what is it") == '"what" OR "is" OR "it"'  # only stop words: keep them
    assert full_text_query("?!* ()") is None
    assert text_index.match_expression(['say "hi"']) == '"say hi"'  # a quote never ends the phrase


def _affordable(store: Storage | Store, words: list[str], scopes: list[str]) -> list[str]:
    return affordable_words(words, store.word_frequencies(words), sqlite_store(store).share_of(scopes))


def _at(minutes: int) -> datetime:
    return datetime(2025, 3, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)


def test_a_reply_is_found_through_the_turn_before_it(service: MemoryService) -> None:
    service.remember("Caroline: did you go to the Radiohead concert on Friday?", created_at=_at(0))
    reply = service.remember("Melanie: yes, and it was amazing!", created_at=_at(1))
    assert reply.memory is not None
    service.remember("Melanie: my garden tomatoes are finally ripe", created_at=_at(2))
    hits = [hit.id for hit in service.recall("Radiohead concert", limit=2).hits]
    assert reply.memory.id in hits


def test_memories_from_another_sitting_are_not_context(service: MemoryService) -> None:
    service.remember("Caroline: did you go to the Radiohead concert on Friday?", created_at=_at(0))
    later = service.remember("Melanie: yes, and it was amazing!", created_at=_at(600))
    assert later.memory is not None
    for n in range(5):
        service.remember(f"unrelated filler {n} w{n}a w{n}b", created_at=_at(600 + n))
    assert later.memory.id not in [hit.id for hit in service.recall("Radiohead concert", limit=2).hits]


def test_context_follows_its_neighbour_when_it_is_forgotten(service: MemoryService) -> None:
    question = service.remember("Caroline: did you go to the Radiohead concert on Friday?", created_at=_at(0))
    reply = service.remember("Melanie: yes, and it was amazing!", created_at=_at(1))
    assert question.memory is not None and reply.memory is not None
    assert [hit.id for hit in service.recall("Radiohead concert", mode="text").hits] == [
        question.memory.id,
        reply.memory.id,
    ]
    service.forget([question.memory.id])
    assert service.recall("Radiohead concert", mode="text").hits == []


def test_neighbours_obey_the_filters(service: MemoryService) -> None:
    service.remember("Caroline: did you go to the Radiohead concert?", tags=["music"], created_at=_at(0))
    reply = service.remember("Melanie: yes, and it was amazing!", created_at=_at(1))
    assert reply.memory is not None
    tagged = service.recall("Radiohead concert", tags=["music"]).hits
    assert reply.memory.id not in [hit.id for hit in tagged]
    assert all("music" in hit.tags for hit in tagged)


def test_the_commonest_words_leave_a_query_that_would_cost_too_much(
    sqlite_service: MemoryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = sqlite_service  # the SQLite engine's own cost estimate
    monkeypatch.setattr(text_index, "POSTINGS_BUDGET", 8)
    for n in range(6):
        service.remember(f"the weekly report number {n} w{n}a w{n}b")
    service.remember("the quarterly budget review")
    scopes = ["default"]
    # budget 1 + weekly 6 fit; report (6 more) would not: the commonest words go first
    assert _affordable(service.store, ["weekly", "report", "budget"], scopes) == ["weekly", "budget"]
    assert _affordable(service.store, ["weekly", "reports"], scopes) == ["weekly"]  # over: keeps one
    assert _affordable(service.store, ["budgets", "unknownword"], scopes) == ["budgets", "unknownword"]
    service.remember("another weekly status in another scope", scope="elsewhere")
    service.store.warm_up()  # with the vector copy loaded, a scope's share of the store scales the cost
    vectors = sqlite_store(service.store).vectors
    assert vectors is not None and vectors.share_of(scopes) == 7 / 8
    # weekly is in 8 rows (7 texts, and one row's context), budget in 1: 9 x 7/8 fits 8, 9 does not
    assert _affordable(service.store, ["weekly", "budget"], scopes) == ["weekly", "budget"]
    frequency = service.store.word_frequencies(["weekly", "budget"])
    assert text_index.affordable_words(["weekly", "budget"], frequency, 1.0) == ["budget"]
    assert service.recall("weekly budget", mode="text").hits[0].content == "the quarterly budget review"


def test_the_full_text_side_keeps_to_the_scopes_asked_for(service: MemoryService) -> None:
    """Scopes are filtered inside MATCH: similar names, and names the tokenizer would split
    or stem, never mix."""
    names = ["project-atlas", "project.atlas", "atlas", "projects", "work"]
    ids = {
        name: stored_id(service.remember(f"kickoff meeting notes for {name}", scope=name)) for name in names
    }
    for name in names:
        hits = service.recall("kickoff meeting", scope=name, mode="text").hits
        assert [hit.id for hit in hits] == [ids[name]], name
    pair = service.recall("kickoff meeting", scope=["atlas", "work"], mode="text").hits
    assert sorted(hit.id for hit in pair) == sorted([ids["atlas"], ids["work"]])


def test_the_full_text_side_leaves_out_superseded_memories_unless_asked(service: MemoryService) -> None:
    old = service.remember("the standup is at nine").memory
    new = service.remember("standup moved to ten thirty").memory
    assert old is not None and new is not None
    rowids = service.store.get_by_ids([old.id, new.id])
    service.store.supersede([rowids[old.id]], new.id, "2026-01-02T00:00:00+00:00", "test", {})
    assert [hit.id for hit in service.recall("standup", mode="text").hits] == [new.id]
    live = service.store.full_text(["standup"], RowFilter(("default",)), 10)
    assert [rowid for rowid, _ in live] == [rowids[new.id].rowid]  # not only dropped later
    everything = service.recall("standup", mode="text", include_superseded=True).hits
    assert sorted(hit.id for hit in everything) == sorted([old.id, new.id])
    tagged = service.recall("standup", mode="text", since=datetime(2000, 1, 1, tzinfo=UTC)).hits
    assert [hit.id for hit in tagged] == [new.id]
