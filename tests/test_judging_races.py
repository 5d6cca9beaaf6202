"""Two servers judging close facts at the same moment, on each engine: a fact whose judge looked
before a close memory was stored elsewhere is judged again before it is stored, so a
near-duplicate race leaves one memory, and a changed value still links to the old one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from conftest import FakeEmbedder
from remembrancer.config import Settings
from remembrancer.dedup import Candidate
from remembrancer.service import MemoryService


@pytest.fixture
def two_servers(
    store_target: Path | str, settings: Settings, fake_embedder: FakeEmbedder
) -> Iterator[tuple[MemoryService, MemoryService]]:
    """Two services on one store, as two server processes would be (each its own connection)."""
    opened = [MemoryService.open(settings.with_overrides(db_path=store_target), fake_embedder) for _ in "ab"]
    yield opened[0], opened[1]
    for service in opened:
        service.close()


def _judging_while(service: MemoryService, meanwhile: Any) -> list[list[str]]:
    """Make ``meanwhile()`` happen after the service's first judgement, before it stores; return
    what each judgement was shown."""
    judge, shown = service.curator.judge, []

    def judge_then_let_the_other_server_write(
        text: str, candidates: Sequence[Candidate], deadline: float
    ) -> Any:
        decision = judge(text, candidates, deadline)
        shown.append([candidate.content for candidate in candidates])
        if len(shown) == 1:
            meanwhile()
        return decision

    service.curator.judge = judge_then_let_the_other_server_write  # type: ignore[method-assign]
    return shown


def test_a_reworded_fact_stored_elsewhere_during_judgement_makes_this_one_a_duplicate(
    two_servers: tuple[MemoryService, MemoryService],
) -> None:
    first, second = two_servers
    elsewhere = "Project Aurora deploys from the main branch"
    shown = _judging_while(first, lambda: second.remember(elsewhere))
    outcome = first.remember("Project Aurora deploys from the main branch, as agreed")
    assert outcome.status == "duplicate", outcome
    assert shown == [[], [elsewhere]]  # judged again, with what arrived meanwhile
    assert second.stats().memories == 1


def test_a_changed_value_stored_elsewhere_during_judgement_is_linked_not_lost(
    two_servers: tuple[MemoryService, MemoryService],
) -> None:
    first, second = two_servers
    first.remember("The staging server is called atlas-7")
    shown = _judging_while(first, lambda: second.remember("The staging server is called atlas-8"))
    outcome = first.remember("The staging server is called atlas-9")
    assert outcome.status == "added" and len(shown) == 2
    assert "The staging server is called atlas-8" in shown[1]
    assert outcome.replaces, outcome  # it says what it changes, including the value stored meanwhile
    hits = first.recall("what is the staging server called", limit=5).hits
    assert hits[0].content == "The staging server is called atlas-9"
    assert second.stats().memories == 3


def test_an_unrelated_fact_stored_elsewhere_does_not_cost_a_second_judgement(
    two_servers: tuple[MemoryService, MemoryService],
) -> None:
    first, second = two_servers
    shown = _judging_while(first, lambda: second.remember("Friday lunches happen at Siam Garden"))
    assert first.remember("Our build cache lives on a NAS").status == "added"
    assert len(shown) == 1
