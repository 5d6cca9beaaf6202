"""`remembrancer copy SRC DST`, through the console script: a store goes from SQLite to
PostgreSQL and back with nothing lost or changed (memory ids and keys, history events and their
numbers, sightings with their wordings, links, superseded marks and times, event times,
vectors), and the copy goes on working as the original would."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import FakeEmbedder
from postgres_server import fresh_database
from remembrancer.config import Settings
from remembrancer.service import MemoryService
from remembrancer.storage import NewMemory, Storage, check, float32_bytes, open_store
from servers import clean_env, run_cli

pytestmark = pytest.mark.slow


def _service(target: Path | str, embedder: FakeEmbedder) -> MemoryService:
    return MemoryService.open(Settings(db_path=target), embedder)


def _fill(service: MemoryService, embedder: FakeEmbedder) -> None:
    """Every kind of row a store holds."""
    service.remember(
        "The staging server is called atlas-7", tags=["infra"], occurred_at="2024-03-01T09:00:00Z"
    )
    service.remember("The staging server is called atlas-7")  # a sighting
    service.remember("The staging server is called atlas-7, as agreed", metadata={"by": "ops"})  # a wording
    service.remember("The staging server is called atlas-9")  # a link to the old value
    service.remember("My favourite editor is Neovim", scope="personal", tags=["tools", "editor"])
    gone = service.remember("The wifi password is hunter2").memory
    assert gone is not None
    service.forget([gone.id])  # history keeps only its id and times
    store = service.store
    flagged = NewMemory("m_00000000000000aa", "Lunch is at noon", "h-lunch", "default", [], {}, NOW, NOW)
    vector = float32_bytes(embedder.embed([flagged.content])[0])
    inserted = store.insert(flagged.__class__(**{**flagged.__dict__, "needs_review": True}), vector, "test")
    old = store.get_by_rowids([inserted.rowid])[inserted.rowid]
    replacement = service.remember("Lunch is at one o'clock now").memory
    assert replacement is not None
    store.supersede([old], replacement.id, NOW, "test", {"reason": "the LLM's way"})


def _snapshot(store: Storage) -> dict[str, Any]:
    """Everything a store holds, as plain values (history details parsed: Postgres keeps JSON
    as jsonb, which orders keys its own way)."""
    memories, after = [], 0
    while batch := store.whole_memories(after, 2):
        memories.extend(batch)
        after = batch[-1].row.rowid
    events: list[Any] = []
    event = 0
    while page := store.history_after(event, 3):
        events.extend(event_row._replace(details=json.loads(event_row.details)) for event_row in page)
        event = page[-1].id
    links = store.links_touching([whole.row.rowid for whole in memories])
    return {
        "memories": memories,
        "history": events,
        "links": sorted(
            {(link.newer, link.older, link.change, link.guard, link.pair_guard, link.at) for link in links}
        ),
        "model": (store.get_meta("embedding_model"), store.get_meta("embedding_dim")),
    }


def test_a_store_goes_to_postgres_and_back_unchanged(tmp_path: Path, postgres: Any) -> None:
    embedder = FakeEmbedder()
    original, back = tmp_path / "original.db", tmp_path / "back.db"
    uri = fresh_database(postgres)
    service = _service(original, embedder)
    _fill(service, embedder)
    before = _snapshot(service.store)
    hits_before = [(hit.id, hit.content) for hit in service.recall("what is the staging server called").hits]
    service.close()
    assert len(before["memories"]) == 5 and len(before["links"]) == 2 and len(before["history"]) == 10

    there = run_cli(tmp_path, "copy", str(original), uri, "--json")
    assert there.returncode == 0, there.stderr
    report = json.loads(there.stdout)
    assert (report["memories"], report["history_events"], report["links"]) == (5, 10, 2)
    returned = run_cli(tmp_path, "copy", uri, str(back))
    assert returned.returncode == 0, returned.stderr
    assert returned.stdout.startswith("copied 5 memories and 10 history events")

    for target in (uri, back):
        store = open_store(target)
        try:
            assert _snapshot(store) == before, target
            assert check(store, quick=False).ok, check(store, quick=False).summary()  # vectors, text side
        finally:
            store.close()

    copy = _service(uri, embedder)  # the copy works as the original: same answers, new keys, undo
    try:
        assert [
            (hit.id, hit.content) for hit in copy.recall("what is the staging server called").hits
        ] == hits_before
        added = copy.remember("The build cache lives on a NAS")
        assert added.status == "added" and added.memory is not None
        assert copy.store.get_by_ids([added.memory.id])[added.memory.id].rowid > max(
            whole.row.rowid for whole in before["memories"]
        )
        superseded = next(event for event in before["history"] if event.event == "superseded")
        assert copy.undo(superseded.id).restored == [superseded.memory_id]
        assert "Lunch is at noon" in [hit.content for hit in copy.recall("when is lunch").hits]
        assert copy.history()[0].id > before["history"][-1].id
    finally:
        copy.close()


def test_a_copy_refuses_a_store_that_is_not_empty_and_changes_nothing(tmp_path: Path, postgres: Any) -> None:
    embedder = FakeEmbedder()
    source, target = tmp_path / "source.db", tmp_path / "target.db"
    for path, text in ((source, "Alpha ships on Mondays"), (target, "Beta ships on Fridays")):
        service = _service(path, embedder)
        service.remember(text)
        service.close()
    kept = target.read_bytes()
    refused = run_cli(tmp_path, "copy", str(source), str(target))
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("remembrancer: ") and refused.stderr.count("\n") == 1
    assert "already holds 1 memories" in refused.stderr and "empty" in refused.stderr
    assert target.read_bytes() == kept

    uri = fresh_database(postgres)
    assert run_cli(tmp_path, "copy", str(source), uri).returncode == 0
    again = run_cli(tmp_path, "copy", str(target), uri, "--json")
    assert again.returncode == 2 and "already holds 1 memories" in json.loads(again.stderr)["error"]

    missing = run_cli(tmp_path, "copy", str(tmp_path / "nowhere.db"), str(tmp_path / "new.db"))
    assert missing.returncode == 2 and "no memory store at" in missing.stderr
    assert not (tmp_path / "new.db").exists()
    same = run_cli(tmp_path, "copy", str(source), str(source))
    assert same.returncode == 2 and "both the source and the target" in same.stderr


def test_a_copy_shows_its_progress_on_a_terminal(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    source = tmp_path / "source.db"
    service = _service(source, embedder)
    for number in range(12):
        service.remember(f"Release {number} shipped on day {number * 7}")
    service.close()
    leader, follower = pty.openpty()
    command = [
        str(Path(sys.executable).parent / "remembrancer"),
        "copy",
        str(source),
        str(tmp_path / "t.db"),
    ]
    done = subprocess.run(
        command, stderr=follower, stdout=subprocess.PIPE, env=clean_env(tmp_path), timeout=120
    )
    os.close(follower)
    shown = os.read(leader, 65536).decode()
    os.close(leader)
    assert done.returncode == 0
    assert "[##############################] 12/12" in shown


NOW = "2026-11-30T12:00:00.000000+00:00"
