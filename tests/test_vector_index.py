"""The in-memory vector copy: exact and compact search, and keeping in step with other writers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import numpy as np
import pytest

from conftest import FAKE_DIM, FakeEmbedder
from remembrancer.config import Settings
from remembrancer.models import ExportRecord
from remembrancer.service import MemoryService
from remembrancer.storage.rows import NewMemory
from remembrancer.storage.sqlite import vec0_reader, vector_index
from remembrancer.storage.sqlite.store import sqlite_store
from remembrancer.storage.sqlite.vector_index import VectorIndex


@pytest.fixture
def service(sqlite_service: MemoryService) -> MemoryService:
    """This module looks at the SQLite engine's own files and tables."""
    return sqlite_service


NOW = "2025-01-01T00:00:00+00:00"
WORDS = ["kites", "harbours", "orchards", "lighthouses", "glaciers", "violins", "lanterns", "meadows"]


def _unit(rows: np.ndarray) -> np.ndarray:
    unit: np.ndarray = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return unit


def _filled(
    count: int, dim: int, scope_of: Callable[[int], str], seed: int, compact: bool = False
) -> tuple[np.ndarray, VectorIndex]:
    """A loaded index of ``count`` random unit rows (rowids from 1), each in ``scope_of(rowid)``."""
    matrix = _unit(np.random.default_rng(seed).standard_normal((count, dim)))
    index = VectorIndex(dim)
    index.loaded, index.compact = True, compact
    for rowid, row in enumerate(matrix, start=1):
        index.put(rowid, scope_of(rowid), row.tobytes())
    return matrix, index


def _exact_top(matrix: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    return [int(i) + 1 for i in np.argsort(-(matrix @ query))[:k]]


@pytest.mark.parametrize("compact", [False, True])
def test_search_matches_brute_force(compact: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_index, "CANDIDATES", 300)
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((40, 64))
    matrix = _unit(centres[rng.integers(0, 40, 3000)] + 0.5 * rng.standard_normal((3000, 64)))
    index = VectorIndex(64)
    index.loaded, index.compact = True, compact
    for rowid, row in enumerate(matrix, start=1):
        index.put(rowid, "a" if rowid % 2 else "b", row.tobytes())
    overlaps = []
    for query in _unit(matrix[:20] + 0.1 * rng.standard_normal((20, 64))):
        found = [rowid for rowid, _ in index.nearest(query.tobytes(), ["a", "b"], 10)]
        overlaps.append(len(set(found) & set(_exact_top(matrix, query, 10))) / 10)
        assert all(rowid % 2 for rowid, _ in index.nearest(query.tobytes(), ["a"], 10))  # scope respected
    assert np.mean(overlaps) >= (1.0 if not compact else 0.9)


@pytest.mark.parametrize("compact", [False, True])
def test_pair_cosines_are_the_stored_vectors_dot_products(compact: bool) -> None:
    """What tells a memory that continues the one before it from an unrelated fact stored next."""
    matrix, index = _filled(50, 384, lambda rowid: "a" if rowid <= 40 else "b", seed=5, compact=compact)
    # Pairs across two scopes, a row never stored, and a pair named with the wrong scope.
    pairs = [("a", 2, 1), ("a", 30, 7), ("b", 45, 41), ("a", 5, 45), ("a", 3, 99), ("b", 2, 1)]
    found = index.pair_cosines(pairs)
    expected = [float(matrix[1] @ matrix[0]), float(matrix[29] @ matrix[6]), float(matrix[44] @ matrix[40])]
    assert found[:3] == pytest.approx(expected, abs=0.002 if compact else 1e-6)
    assert found[3:] == [None, None, None]
    index.remove(1)
    assert index.pair_cosines([("a", 2, 1)]) == [None]


def test_int8_rows_score_within_a_thousandth_or_so_of_float32() -> None:
    """Close neighbours differ by about 0.01 in cosine: the compact copy must score finer than
    that, or it reorders them (a fixed scale of 127 errs by up to 0.007 on 384-d unit vectors)."""
    rng = np.random.default_rng(3)
    matrix = _unit(rng.standard_normal((2000, 384)))
    small, scale = vector_index._int8(matrix)
    query = matrix[0]
    error = np.abs((small.astype(np.float32) @ query) * scale - matrix @ query)
    assert error.max() < 0.002


def test_changes_and_removals_apply() -> None:
    index = VectorIndex(4)
    index.loaded = True
    east, north = np.array([1, 0, 0, 0], np.float32), np.array([0, 1, 0, 0], np.float32)
    index.put(1, "s", east.tobytes())
    index.put(2, "s", north.tobytes())
    assert index.nearest(east.tobytes(), ["s"], 1)[0][0] == 1
    index.put(1, "s", north.tobytes())  # its vector changed
    index.put(2, "s", east.tobytes())
    assert index.nearest(east.tobytes(), ["s"], 1)[0][0] == 2
    index.remove(2)
    assert [rowid for rowid, _ in index.nearest(east.tobytes(), ["s"], 5)] == [1]


def test_a_second_connection_sees_what_the_first_one_changed(settings: Settings) -> None:
    reader = MemoryService.open(settings, FakeEmbedder())
    writer = MemoryService.open(settings, FakeEmbedder())
    try:
        writer.remember("apples grow on trees in the orchard")
        assert reader.recall("apples orchard", mode="vector").hits[0].content.startswith("apples")
        pear = writer.remember("pears ripen slowly in autumn")
        assert pear.memory is not None
        assert reader.recall("pears ripen autumn", mode="vector").hits[0].id == pear.memory.id
        writer.forget([pear.memory.id])
        assert all(h.id != pear.memory.id for h in reader.recall("pears ripen autumn", mode="vector").hits)
    finally:
        reader.close()
        writer.close()


def test_a_reader_far_behind_reloads(settings: Settings) -> None:
    reader = MemoryService.open(settings, FakeEmbedder())
    writer = MemoryService.open(settings, FakeEmbedder())
    try:
        reader.remember("the first memory about kites")
        reader.recall("kites", mode="vector")
        late = writer.remember("a memory about sailing boats")
        assert late.memory is not None
        sqlite_store(writer.store).conn.execute("delete from vector_log")  # as if trimmed past the reader
        writer.remember("another memory about harbours")
        assert reader.recall("sailing boats", mode="vector").hits[0].id == late.memory.id
    finally:
        reader.close()
        writer.close()


def test_a_rolled_back_write_leaves_the_copy_unchanged(service: MemoryService) -> None:
    service.remember("kept memory about lighthouses")
    service.recall("lighthouses")
    with pytest.raises(RuntimeError), service.store.transaction():
        service.store.insert(
            NewMemory("m_rolledback", "ghost memory about lighthouses", "h", "default", [], {}, NOW, NOW),
            service._vectors(["ghost memory about lighthouses"])[0],
            "test",
        )
        raise RuntimeError("abort")
    assert [hit.content for hit in service.recall("lighthouses", mode="vector").hits] == [
        "kept memory about lighthouses"
    ]


def test_many_removals_compact_the_arrays() -> None:
    matrix, index = _filled(3000, 16, lambda rowid: "s", seed=3)
    for rowid in range(1, 3001, 2):
        index.remove(rowid)
    partition = index.partitions["s"]
    assert len(partition) == 1500 and partition.size < 3000  # compacted along the way
    found = [rowid for rowid, _ in index.nearest(matrix[0].tobytes(), ["s"], 3000)]
    assert len(found) == 1500 and all(rowid % 2 == 0 for rowid in found)
    assert found[:5] == [i + 1 for i in np.argsort(-(matrix @ matrix[0])) if (i + 1) % 2 == 0][:5]


def _vectors_by_rowid(groups: Iterable[vec0_reader.Group]) -> dict[int, tuple[str, bytes]]:
    found: dict[int, tuple[str, bytes]] = {}
    for scope, rowids, matrix in groups:
        for rowid, row in zip(rowids.tolist(), matrix, strict=True):
            assert rowid not in found
            found[rowid] = (scope, row.tobytes())
    return found


def test_reading_vec0_chunks_gives_what_the_table_gives(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Several chunks per scope, a partly filled last chunk, forgotten memories (cleared slots):
    the bulk read of sqlite-vec's chunks equals a scan of the virtual table, and a layout it
    does not recognise makes it fall back to that scan."""
    service = MemoryService.open(settings, FakeEmbedder())
    try:
        at = datetime(2025, 1, 1, tzinfo=UTC)
        service.import_records(
            ExportRecord(
                id=f"m_{i:016x}",
                content=f"note {i} about {WORDS[i % len(WORDS)]} and {WORDS[i % 7]}",
                scope=("alpha", "beta", "gamma")[i % 3],
                created_at=at,
                updated_at=at,
            )
            for i in range(3500)
        )
        service.forget([f"m_{i:016x}" for i in range(0, 3500, 5)])
        conn = sqlite_store(service.store).conn
        with vec0_reader.snapshot(conn):
            chunked = _vectors_by_rowid(vec0_reader.read_vectors(conn, FAKE_DIM))
            scanned = _vectors_by_rowid(vec0_reader._from_scan(conn, FAKE_DIM))
        assert chunked == scanned and len(chunked) == 2800
        assert {scope for scope, _ in chunked.values()} == {"alpha", "beta", "gamma"}
        assert not caplog.records

        monkeypatch.setattr(vec0_reader, "CHUNK_COLUMNS", {*vec0_reader.CHUNK_COLUMNS, "offsets"})
        with vec0_reader.snapshot(conn):
            fallback = _vectors_by_rowid(vec0_reader.read_vectors(conn, FAKE_DIM))
        assert fallback == scanned
        assert "reading vectors one by one" in caplog.text
    finally:
        service.close()


def test_a_search_among_rows_looks_only_in_the_scopes_named_and_the_count_follows_changes() -> None:
    matrix, index = _filled(20, 384, lambda rowid: "a" if rowid <= 10 else "b", seed=9)
    assert len(index) == 20 and index.share_of(["a"]) == 0.5
    found = index.nearest_among(matrix[0].tobytes(), range(1, 21), ["a"], 20)
    assert {rowid for rowid, _ in found} == set(range(1, 11))
    assert found[0][0] == 1 and found[0][1] == pytest.approx(0.0, abs=1e-6)
    index.remove(3)
    index.put(21, "b", matrix[0].tobytes())
    assert len(index) == 20 and index.share_of(["b"]) == 11 / 20
