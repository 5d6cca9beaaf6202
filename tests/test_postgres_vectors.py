"""The Postgres engine's vector side: exact among few memories, the HNSW index among many, and
an index search filtered to a small scope still returns k memories of that scope (pgvector's
iterative scans), the same ones an exact search finds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from postgres_server import fresh_database
from remembrancer.storage import NewMemory, Storage, float32_bytes, open_store
from remembrancer.storage.postgres import search as reads

pytestmark = pytest.mark.slow
DIM = 32
NOW = "2026-11-30T12:00:00.000000+00:00"


@pytest.fixture
def store(postgres: Any) -> Iterator[Storage]:
    """600 memories: 540 in 'big', 60 in 'small', vectors in clusters, statistics gathered."""
    opened = open_store(fresh_database(postgres))
    opened.bind_embedding_model("test-vectors", DIM)
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(30, DIM))
    with opened.transaction():
        for number in range(600):
            vector = centres[number % 30] + rng.normal(scale=0.3, size=DIM)
            memory = NewMemory(
                f"m_{number:016x}",
                f"memory {number}",
                f"h{number}",
                "small" if number % 10 == 0 else "big",
                [],
                {},
                NOW,
                NOW,
            )
            opened.insert(memory, float32_bytes(list(vector / np.linalg.norm(vector))), "test")
    _sql(opened, "analyze memories")
    yield opened
    opened.close()


def _sql(store: Storage, statement: str) -> list[Any]:
    cursor = store._execute(statement)  # type: ignore[attr-defined]
    return list(cursor.fetchall()) if cursor.description else []


def _force_the_index(store: Storage) -> None:
    """A table this small is cheaper to read whole: make the planner take the HNSW index."""
    for plan in ("seqscan", "bitmapscan", "sort"):
        _sql(store, f"set enable_{plan} = off")


def _index_scans(store: Storage) -> int:
    _sql(store, "select pg_stat_force_next_flush()")
    found = _sql(
        store, "select idx_scan from pg_stat_user_indexes where indexrelname = 'memory_vectors_hnsw'"
    )
    return int(found[0][0])


def _queries() -> list[bytes]:
    rng = np.random.default_rng(11)
    return [float32_bytes(list(rng.normal(size=DIM))) for _ in range(12)]


def test_few_memories_are_searched_exactly_and_many_through_the_index(
    store: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _index_scans(store)
    exact = [store.nearest(query, ["big", "small"], 10) for query in _queries()]
    assert _index_scans(store) == before  # 600 < EXACT_BELOW: every distance computed
    monkeypatch.setattr(reads, "EXACT_BELOW", 0)
    _force_the_index(store)
    through_index = [store.nearest(query, ["big", "small"], 10) for query in _queries()]
    assert _index_scans(store) >= before + len(exact)
    overlap = np.mean(
        [len({r for r, _ in a} & {r for r, _ in b}) / 10 for a, b in zip(exact, through_index, strict=True)]
    )
    assert overlap >= 0.9, overlap
    for found in through_index:
        assert [d for _, d in found] == sorted(d for _, d in found)


def test_an_index_search_of_a_small_scope_still_finds_k_of_its_memories(
    store: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = {row.rowid for row in store.iter_rows() if row.scope == "small"}
    exact = [store.nearest(query, ["small"], 20) for query in _queries()]
    monkeypatch.setattr(reads, "EXACT_BELOW", 0)
    _force_the_index(store)
    _sql(store, "set hnsw.ef_search = 10")  # far fewer than the big scope's neighbours: a plain scan
    # would return only the few small-scope rows among its first 10 candidates
    before = _index_scans(store)
    through_index = [store.nearest(query, ["small"], 20) for query in _queries()]
    assert _index_scans(store) > before
    for found, expected in zip(through_index, exact, strict=True):
        assert len(found) == 20 and {rowid for rowid, _ in found} <= small
        assert len({r for r, _ in found} & {r for r, _ in expected}) >= 16
